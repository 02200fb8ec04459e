import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const PACKAGE_NAME = 'recovery-twin';

let cached: string | undefined;

/**
 * The folder holding this project's package.json, found by walking up from this file.
 *
 * Files shipped beside the code (`fhir-profiles/`, `fixtures/`) are resolved from here, never from the cwd: the same
 * code runs from `src/` under ts-jest/tsx and from `dist/` after a build, started from any directory.
 */
export function packageRoot(): string {
  if (cached) {
    return cached;
  }
  let dir = __dirname;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && readPackageName(manifest) === PACKAGE_NAME) {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      // A plain Error on purpose: the CLI imports this before it has checked the Node version, so it may not load
      // @medplum/core (src/fhir/outcomes.ts). It is an installation fault, reported by the CLI as a message.
      throw new Error(`Cannot find the ${PACKAGE_NAME} package root above ${__dirname}`);
    }
    dir = parent;
  }
}

function readPackageName(manifest: string): string | undefined {
  const parsed: unknown = JSON.parse(readFileSync(manifest, 'utf8'));
  if (typeof parsed === 'object' && parsed !== null && 'name' in parsed && typeof parsed.name === 'string') {
    return parsed.name;
  }
  return undefined;
}
