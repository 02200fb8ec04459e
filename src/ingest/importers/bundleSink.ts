import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { invalidInput } from '../../fhir/outcomes';

/**
 * Where generated or imported transaction Bundles go: files in a directory, or a FHIR server's base URL.
 * The only two places in the data-in code that do I/O with bundles.
 */
export interface BundleSink {
  /** `name` is a file-safe label (subject key, source file), used as the file name for directory sinks. */
  write(name: string, bundle: Bundle): Promise<void>;
  /** Human-readable destination for messages ("directory out/bundles", "http://...") — never holds data. */
  readonly description: string;
}

/** Writes each bundle as `<dir>/<name>.json` (compact JSON: cohorts run to gigabytes). */
export async function directorySink(dir: string): Promise<BundleSink> {
  await mkdir(dir, { recursive: true });
  return {
    description: `directory ${dir}`,
    write: async (name, bundle) => {
      await writeFile(join(dir, `${safeFileName(name)}.json`), JSON.stringify(bundle));
    },
  };
}

export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string }
) => Promise<{
  ok: boolean;
  status: number;
  statusText: string;
  text(): Promise<string>;
}>;

/**
 * POSTs each transaction Bundle to the server base URL (FHIR R4 http.html#transaction) with
 * Content-Type application/fhir+json. A non-2xx answer throws an Error naming the status and the server's
 * OperationOutcome diagnostics, so the caller stops instead of silently losing data.
 */
export function fhirServerSink(baseUrl: string, fetchFn: FetchLike = globalThis.fetch): BundleSink {
  const url = baseUrl.replace(/\/+$/, '');
  return {
    description: url,
    write: async (name, bundle) => {
      const response = await fetchFn(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json' },
        body: JSON.stringify(bundle),
      });
      if (!response.ok) {
        const detail = outcomeSummary(await response.text().catch(() => ''));
        throw invalidInput(
          `FHIR server ${url} rejected transaction '${name}': HTTP ${response.status} ${response.statusText}` +
            (detail ? ` — ${detail}` : '')
        );
      }
    },
  };
}

/** The issue texts of an OperationOutcome body (the server's words, not resource contents). */
function outcomeSummary(body: string): string {
  try {
    const parsed = JSON.parse(body) as Partial<OperationOutcome>;
    if (parsed.resourceType === 'OperationOutcome') {
      return (parsed.issue ?? [])
        .map((i) => i.details?.text ?? i.diagnostics ?? i.code)
        .filter(Boolean)
        .join('; ');
    }
  } catch {
    // not JSON: fall through
  }
  return body.slice(0, 200);
}

export function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}
