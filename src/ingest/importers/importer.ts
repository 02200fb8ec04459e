import type { ParsedSource } from './importRecord';

/** What `twin import` passes to every importer; an importer reads the options it understands and ignores the rest. */
export interface ImporterOptions {
  /** Write all values for this existing Patient id (single-subject sources). */
  readonly patientId?: string;
  /** csv: day 0 for integer day indexes (YYYY-MM-DD). */
  readonly startDate?: string;
  /** csv: source label in record keys. */
  readonly source?: string;
}

/**
 * One wearable or self-report export format. An importer reads an export (file or folder) into catalogue records;
 * building Observations, bundles and sinks is shared (importBundles.ts, bundleSink.ts). A new format is one file
 * exporting an Importer plus one line in importerRegistry.ts; `twin import` reads its choices from the registry.
 */
export interface Importer {
  /** The `twin import <format>` name. */
  readonly format: string;
  /** One line for `--help`: what the export is and where it comes from. */
  readonly description: string;
  read(path: string, options: ImporterOptions): Promise<ParsedSource>;
}
