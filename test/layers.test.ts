import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The one-way house (docs/LAYERS.md): `npm run lint` runs dependency-cruiser with the rules generated from
// layers.cjs. These tests show the check passes on the repository and fails on a back-arrow.

const ROOT = join(__dirname, '..');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruiser.mjs');

interface LayerRow {
  readonly folder: string;
  readonly rank: number;
  readonly layer: 'ground' | 'stage' | 'door';
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { LAYERS } = require('../layers.cjs') as { LAYERS: readonly LayerRow[] };

/** Runs dependency-cruiser in `cwd` over its src/; returns the exit status and what it printed. */
function cruise(cwd: string): { status: number; output: string } {
  try {
    const output = execFileSync(process.execPath, [DEPCRUISE, 'src', '--config', '.dependency-cruiser.cjs'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { status: 0, output };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { status: e.status ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** A throw-away project with the repository's rules and the given source files. */
function fixtureProject(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'layers-'));
  cpSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  cpSync(join(ROOT, 'layers.cjs'), join(dir, 'layers.cjs'));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'commonjs', strict: true }, include: ['src'] })
  );
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe('layers (dependency-cruiser in npm run lint)', () => {
  test('the repository has no back-arrow and no cycle', () => {
    const { status, output } = cruise(ROOT);
    expect(output).toContain('no dependency violations found');
    expect(status).toBe(0);
  });

  test('a ground module importing a stage fails the check, naming the rule', () => {
    const dir = fixtureProject({
      'src/fhir/outcome.ts': "import { decide } from '../review/decide';\nexport const x = decide();\n",
      'src/review/decide.ts': 'export function decide(): number {\n  return 1;\n}\n',
    });
    try {
      const { status, output } = cruise(dir);
      expect(status).not.toBe(0);
      expect(output).toContain('layer-fhir');
      expect(output).toContain('src/fhir/outcome.ts → src/review/decide.ts');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('siblings of one rank may not import each other; the same arrow downwards passes', () => {
    const sideways = fixtureProject({
      'src/detect/a.ts': "import { b } from '../evidence/b';\nexport const a = b;\n",
      'src/evidence/b.ts': 'export const b = 1;\n',
    });
    const downwards = fixtureProject({
      'src/review/a.ts': "import { b } from '../fhir/b';\nexport const a = b;\n",
      'src/fhir/b.ts': 'export const b = 1;\n',
    });
    try {
      expect(cruise(sideways).output).toContain('layer-detect');
      expect(cruise(sideways).status).not.toBe(0);
      expect(cruise(downwards).status).toBe(0);
    } finally {
      rmSync(sideways, { recursive: true, force: true });
      rmSync(downwards, { recursive: true, force: true });
    }
  });

  test('a runtime cycle fails the check', () => {
    const dir = fixtureProject({
      'src/twin/a.ts': "import { b } from './b';\nexport const a = (): number => b();\n",
      'src/twin/b.ts': "import { a } from './a';\nexport const b = (): number => a();\n",
    });
    try {
      const { status, output } = cruise(dir);
      expect(status).not.toBe(0);
      expect(output).toContain('no-circular');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every folder of src/ has a row in layers.cjs, and ranks run ground < stage < door', () => {
    const folders = readdirSync(join(ROOT, 'src'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    const known = new Set(LAYERS.map((l) => l.folder));
    expect(folders.filter((f) => !known.has(f))).toEqual([]);
    const maxRank = (layer: LayerRow['layer']): number =>
      Math.max(...LAYERS.filter((l) => l.layer === layer).map((l) => l.rank));
    const minRank = (layer: LayerRow['layer']): number =>
      Math.min(...LAYERS.filter((l) => l.layer === layer).map((l) => l.rank));
    expect(maxRank('ground')).toBeLessThan(minRank('stage'));
    expect(maxRank('stage')).toBeLessThan(minRank('door'));
  });
});
