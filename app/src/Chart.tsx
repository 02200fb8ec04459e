import type { JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartSeries {
  readonly label: string;
  readonly values: ReadonlyArray<number | null>;
  readonly stroke: string;
  readonly dash?: number[];
  /** Points only (anomalous days). */
  readonly pointsOnly?: boolean;
}

/** A small time-series chart (uPlot). `x` is unix seconds; the label is for screen readers. */
export function Chart(props: {
  label: string;
  x: readonly number[];
  series: readonly ChartSeries[];
  height?: number;
}): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) {
      return undefined;
    }
    const width = Math.max(240, el.clientWidth || 320);
    const plot = new uPlot(
      {
        width,
        height: props.height ?? 160,
        legend: { show: true },
        cursor: { show: true },
        series: [
          {},
          ...props.series.map((s) => ({
            label: s.label,
            stroke: s.stroke,
            width: s.pointsOnly ? 0 : 2,
            ...(s.dash ? { dash: s.dash } : {}),
            points: { show: Boolean(s.pointsOnly), size: 8, fill: s.stroke },
            spanGaps: false,
          })),
        ],
        axes: [{}, { size: 40 }],
      },
      [props.x as number[], ...props.series.map((s) => s.values as Array<number | null>)],
      el
    );
    return () => plot.destroy();
  }, [props.x, props.series]);
  return <div class="chart" role="img" aria-label={props.label} ref={host} />;
}
