import { badRequest, OperationOutcomeError } from '@medplum/core';
import { fitbitImporter } from './fitbit';
import type { Importer } from './importer';
import { longCsvImporter } from './longCsv';
import { pmsysImporter } from './pmsys';
import { welltoryImporter } from './welltory';

/** Every export format `twin import` reads. A new format: one file exporting an Importer, one line here. */
export const IMPORTERS: readonly Importer[] = [fitbitImporter, pmsysImporter, welltoryImporter, longCsvImporter];

/** The importer of a format name, or a bad-request OperationOutcomeError listing the known ones. */
export function importerFor(format: string): Importer {
  const importer = IMPORTERS.find((i) => i.format === format);
  if (!importer) {
    throw new OperationOutcomeError(
      badRequest(`Unknown import format "${format}"; known: ${IMPORTERS.map((i) => i.format).join(', ')}`, 'format')
    );
  }
  return importer;
}
