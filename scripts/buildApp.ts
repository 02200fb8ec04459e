// Builds the SMART app (app/) into a static folder with esbuild: one ES module per page, one stylesheet, the HTML.
// No CDN at run time: everything the page loads comes from this folder. `npm run build` runs it into dist/app.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(__dirname, '..');
const APP = join(ROOT, 'app');

export interface AppBuild {
  readonly outDir: string;
  /** Bytes of each emitted JS/CSS file, raw and gzipped. */
  readonly files: ReadonlyArray<{ file: string; bytes: number; gzipBytes: number }>;
}

export async function buildApp(outDir = join(ROOT, 'dist', 'app')): Promise<AppBuild> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: {
      launch: join(APP, 'src', 'launch.ts'),
      patientLaunch: join(APP, 'src', 'patientLaunch.ts'),
      main: join(APP, 'src', 'main.tsx'),
      app: join(APP, 'app.css'),
    },
    outdir: outDir,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    // fhirclient's "pure" build: no polyfills (every browser that runs the app has fetch and WebCrypto).
    define: { 'process.env.NODE_ENV': '"production"', FHIRCLIENT_PURE: 'true' },
    legalComments: 'none',
    logLevel: 'warning',
    tsconfig: join(APP, 'tsconfig.json'),
  });
  for (const page of ['index.html', 'launch.html', 'patient-launch.html']) {
    copyFileSync(join(APP, page), join(outDir, page));
  }
  const files = ['launch.js', 'patientLaunch.js', 'main.js', 'app.css'].map((file) => {
    const path = join(outDir, file);
    return { file, bytes: statSync(path).size, gzipBytes: gzipSync(readFileSync(path)).length };
  });
  return { outDir, files };
}

if (require.main === module) {
  buildApp(process.argv[2] ? resolve(process.argv[2]) : undefined)
    .then((result) => {
      for (const f of result.files) {
        console.log(`${f.file}: ${f.bytes} bytes, ${f.gzipBytes} gzipped`);
      }
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
