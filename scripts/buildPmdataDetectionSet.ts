// Builds the PMData early-warning evaluation set from ../shared/data (read at run time, nothing copied into the
// repository): `npx tsx scripts/buildPmdataDetectionSet.ts <pmdata-dir> <out-dir>` writes
//   <out-dir>/observations.csv          subject_id,day,metric,value  (the project's Fitbit and PMSys importers,
//                                        values in catalogue units: resting HR, sleep, active minutes, training load,
//                                        the PMSys wellness items)
//   <out-dir>/observations-fitbit.csv   the same, Fitbit metrics only (no self-reports): the non-circular view for
//                                        readiness_collapse, whose label is itself a self-report
//   <out-dir>/labels.csv                subject_id,day,event
// PMData (Thambawita et al., MMSys 2020), CC BY 4.0; 16 people, about five months; dates shifted per person.
//
// Events (PMData has no illness labels; these are the deviations it does record):
// - injury_onset: the day of a PMSys injury report naming at least one body part, when that person's previous
//   report naming an injury is at least 8 days earlier (i.e. at least 7 injury-free days in between) and an earlier
//   report said "no injury" (so the injury is known not to predate the record). Reports are weekly, so a weekly
//   run of the same injury gives one onset.
// - readiness_collapse: a PMSys readiness-to-train report <= 3 (of 0-10) when the mean of that person's readiness
//   reports over the 7 days before is >= 6, from at least 4 reports; at most one per 14 days (a collapse lasting
//   several days is one event). Why: readiness is the athlete's own overall judgement of being fit to train; a drop
//   from the upper half of the scale to its lowest third within a week is a large, sudden change that a coach
//   would act on (the thresholds are this project's choice, not a published definition).
// Caveat: readiness is also an input of observations.csv, so a detector can "see" the collapse on its onset day;
// the Fitbit-only file removes that circularity.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSource } from '../src/cli/importCommand';
import { normaliseMetricValue } from '../src/fhir/metricCatalogue';
import { parseCsv } from '../src/ingest/importers/csvRows';
import { isoDay } from '../src/ingest/importers/importRecord';
import { addDays, parseDay } from '../src/calendar/calendarDay';

const FITBIT_METRICS = new Set(['resting-heart-rate', 'sleep-duration', 'active-minutes', 'steps']);

async function main(): Promise<void> {
  const [dir, out] = process.argv.slice(2);
  if (!dir || !out) {
    throw new Error('usage: buildPmdataDetectionSet.ts <pmdata-dir> <out-dir>');
  }
  mkdirSync(out, { recursive: true });
  const people = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^p\d+$/.test(d.name))
    .map((d) => d.name)
    .sort();
  const lines = ['subject_id,day,metric,value'];
  const fitbitLines = ['subject_id,day,metric,value'];
  const labels = ['subject_id,day,event'];
  let refused = 0;
  let issues = 0;
  const counts = { injury_onset: 0, readiness_collapse: 0 };
  for (const person of people) {
    const readiness = new Map<string, number[]>();
    for (const format of ['fitbit', 'pmsys'] as const) {
      const parsed = await parseSource(format, join(dir, person), { onError: 'skip' });
      issues += parsed.issues.length;
      for (const r of parsed.records) {
        let value: number;
        try {
          value = normaliseMetricValue(r.metric, r.value, r.unit);
        } catch {
          refused++;
          continue;
        }
        const line = `${person},${r.day},${r.metric},${value}`;
        lines.push(line);
        if (FITBIT_METRICS.has(r.metric)) {
          fitbitLines.push(line);
        }
        if (r.metric === 'readiness') {
          readiness.set(r.day, [...(readiness.get(r.day) ?? []), value]);
        }
      }
    }
    for (const day of injuryOnsets(join(dir, person, 'pmsys', 'injury.csv'))) {
      labels.push(`${person},${day},injury_onset`);
      counts.injury_onset++;
    }
    for (const day of readinessCollapses(readiness)) {
      labels.push(`${person},${day},readiness_collapse`);
      counts.readiness_collapse++;
    }
  }
  writeFileSync(join(out, 'observations.csv'), lines.join('\n') + '\n');
  writeFileSync(join(out, 'observations-fitbit.csv'), fitbitLines.join('\n') + '\n');
  writeFileSync(join(out, 'labels.csv'), labels.join('\n') + '\n');
  process.stderr.write(
    `pmdata: ${people.length} people, ${lines.length - 1} values (${refused} refused by catalogue bounds, ` +
      `${issues} parse issues), ${counts.injury_onset} injury onsets, ${counts.readiness_collapse} readiness collapses\n`
  );
}

/** Injury onsets of one person (see the header); a missing file gives none. */
function injuryOnsets(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const reports: { day: number; iso: string; injured: boolean }[] = [];
  for (const row of parseCsv(text).rows) {
    const iso = isoDay(row.values.effective_time_frame);
    const day = iso === undefined ? undefined : parseDay(iso);
    if (iso === undefined || day === undefined) {
      continue;
    }
    // `{}` = no injury; otherwise a Python-style dict of body part -> severity.
    const injured = /'[^']+'\s*:/.test(row.values.injuries ?? '');
    reports.push({ day, iso, injured });
  }
  reports.sort((a, b) => a.day - b.day);
  const onsets: string[] = [];
  let lastInjured: number | undefined;
  let sawInjuryFree = false;
  for (const r of reports) {
    if (!r.injured) {
      sawInjuryFree = true;
      continue;
    }
    if (sawInjuryFree && (lastInjured === undefined || r.day - lastInjured >= 8)) {
      onsets.push(r.iso);
    }
    lastInjured = r.day;
  }
  return [...new Set(onsets)];
}

/** Readiness collapses of one person (see the header), from their daily readiness reports. */
function readinessCollapses(byDay: ReadonlyMap<string, number[]>): string[] {
  const days = [...byDay.keys()].sort();
  const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const out: string[] = [];
  let last: number | undefined;
  for (const iso of days) {
    const day = parseDay(iso) as number;
    const today = mean(byDay.get(iso) ?? []);
    if (today > 3 || (last !== undefined && day - last < 14)) {
      continue;
    }
    const before: number[] = [];
    for (let k = 1; k <= 7; k++) {
      const v = byDay.get(addDays(iso, -k));
      if (v) {
        before.push(mean(v));
      }
    }
    if (before.length >= 4 && mean(before) >= 6) {
      out.push(iso);
      last = day;
    }
  }
  return out;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
