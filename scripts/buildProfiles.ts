/**
 * `npm run profiles`: regenerates fhir-profiles/ (profiles with snapshots, CodeSystems, ValueSets,
 * OperationDefinitions) from scripts/conformance/. `--check` writes nothing and exits 1 when a committed file differs.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { conformanceFiles, serializeConformanceResource } from './conformance/conformanceResources';
import { defaultProfileDir } from '../src/fhir/profileRegistry';

async function main(args: readonly string[]): Promise<number> {
  const check = args.includes('--check');
  const dir = defaultProfileDir();
  mkdirSync(dir, { recursive: true });
  const stale: string[] = [];
  for (const { fileName, resource } of conformanceFiles()) {
    const file = join(dir, fileName);
    const text = serializeConformanceResource(resource);
    const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    if (current === text) {
      continue;
    }
    stale.push(fileName);
    if (!check) {
      writeFileSync(file, text);
    }
  }
  if (check && stale.length > 0) {
    process.stderr.write(`fhir-profiles/ is out of date (run npm run profiles): ${stale.join(', ')}\n`);
    return 1;
  }
  process.stdout.write(`${check ? 'checked' : 'wrote'} ${stale.length} changed file(s) in ${dir}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
);
