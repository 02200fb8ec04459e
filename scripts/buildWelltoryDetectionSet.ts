// Builds the Welltory early-warning evaluation set from ../shared/data (read at run time, nothing copied into the
// repository): `npx tsx scripts/buildWelltoryDetectionSet.ts <welltory-dir> <out-dir>` writes
//   <out-dir>/observations.csv  subject_id,day,metric,value  (the project's importer, values in catalogue units)
//   <out-dir>/labels.csv        subject_id,day,event         (event illness_symptoms = participants.csv symptoms_onset)
// Welltory HRV/COVID-19 data set, CC0 1.0. Dates are shifted per person in the source, consistently within a person.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSource } from '../src/cli/importCommand';
import { normaliseMetricValue } from '../src/fhir/metricCatalogue';
import { parseCsv } from '../src/ingest/importers/csvRows';

async function main(): Promise<void> {
  const [dir, out] = process.argv.slice(2);
  if (!dir || !out) {
    throw new Error('usage: buildWelltoryDetectionSet.ts <welltory-dir> <out-dir>');
  }
  mkdirSync(out, { recursive: true });
  const parsed = await parseSource('welltory', dir, { onError: 'skip' });
  const lines = ['subject_id,day,metric,value'];
  let refused = 0;
  for (const r of parsed.records) {
    try {
      lines.push(`${r.subjectKey},${r.day},${r.metric},${normaliseMetricValue(r.metric, r.value, r.unit)}`);
    } catch {
      refused++;
    }
  }
  writeFileSync(join(out, 'observations.csv'), lines.join('\n') + '\n');
  const participants = parseCsv(readFileSync(join(dir, 'participants.csv'), 'utf8'));
  const labels = ['subject_id,day,event'];
  for (const row of participants.rows) {
    const onset = (row.values.symptoms_onset ?? '').trim();
    const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(onset); // M/D/YYYY as in participants.csv
    if (m) {
      const day = `${m[3]}-${m[1].padStart(2, '0')}-${m[2].padStart(2, '0')}`;
      labels.push(`${row.values.user_code},${day},illness_symptoms`);
    }
  }
  writeFileSync(join(out, 'labels.csv'), labels.join('\n') + '\n');
  process.stderr.write(
    `welltory: ${lines.length - 1} values (${refused} refused by catalogue bounds), ${labels.length - 1} onsets, ${parsed.issues.length} parse issues\n`
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
