// `npm run bench -- app`: the SMART app's bundle size (raw and gzipped, per page) and its first meaningful render in
// Debian's headless Chromium against the embedded server (SQLite store, synthetic patients through the real
// pipeline), launched from the EHR-launch simulator. Figures, not a test: nothing here fails on a threshold.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { buildApp } from '../scripts/buildApp';
import { openEvidenceEngine } from '../src/evidence/evidenceEngine';
import { twinAppClient } from '../src/server/clinicianDoor';
import { registerEvidenceOperations } from '../src/server/evidenceOperations';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';
import { seedClinicianScenario } from '../test/support/clinicianScenario';
import { startDoorServer } from '../test/support/doorServer';
import { percentile } from './percentile';

const RUNS = 7;

export async function runAppBench(args: string[]): Promise<void> {
  const runs = Number(args[0] ?? RUNS);
  const dir = mkdtempSync(join(tmpdir(), 'twin-app-bench-'));
  try {
    const build = await buildApp(join(dir, 'app'));
    const size = (file: string): { bytes: number; gzipBytes: number } =>
      build.files.find((f) => f.file === file) ?? { bytes: 0, gzipBytes: 0 };
    console.log('Bundle (esbuild, minified; gzip level 6):');
    for (const f of build.files) {
      console.log(
        `  ${f.file.padEnd(10)} ${(f.bytes / 1024).toFixed(1)} KB raw, ${(f.gzipBytes / 1024).toFixed(1)} KB gzipped`
      );
    }
    const page = size('main.js').gzipBytes + size('app.css').gzipBytes;
    const launch = size('launch.js').gzipBytes + size('app.css').gzipBytes;
    console.log(`  patient view page (main.js + app.css): ${(page / 1024).toFixed(1)} KB gzipped (goal <= 200 KB)`);
    console.log(`  launch page (launch.js + app.css):     ${(launch / 1024).toFixed(1)} KB gzipped`);

    const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
    if (!existsSync(chromiumPath)) {
      console.log(`First render: NOT MEASURED, no Chromium at ${chromiumPath} (apt-get install chromium)`);
      return;
    }
    const store = await openSqliteStore(join(dir, 'store'), {
      baseUrl: 'http://127.0.0.1/fhir/R4',
      durability: 'normal',
    });
    const router = createEmbeddedRouter();
    const evidence = await openEvidenceEngine({ env: {}, log: () => undefined });
    const now = new Date();
    registerEvidenceOperations(router, { ...evidence, now: () => now.toISOString() });
    const scenario = await seedClinicianScenario(store.repo, router, evidence, now);
    const server = await startDoorServer({
      repo: store.repo,
      router,
      appDir: build.outDir,
      clients: (o) => [twinAppClient(o)],
    });
    const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
    const launchToRender: number[] = [];
    const inApp: number[] = [];
    try {
      for (let i = 0; i < runs; i++) {
        const context = await browser.newContext({ viewport: { width: 420, height: 900 } });
        const p = await context.newPage();
        await p.goto(`${server.issuer}/launcher`);
        await p.selectOption('#app', 'recovery-twin-app');
        await p.selectOption('#practitioner', scenario.practitioner);
        await p.selectOption('#patient', scenario.patientId);
        const started = performance.now();
        await p.click('button[type="submit"]');
        await p.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 60_000 });
        launchToRender.push(performance.now() - started);
        inApp.push(
          Number(
            await p.evaluate(() => (globalThis as unknown as { twinFirstRenderMs?: number }).twinFirstRenderMs ?? NaN)
          )
        );
        await context.close();
      }
    } finally {
      await browser.close();
      await server.close();
      store.close();
    }
    const fmt = (xs: number[]): string =>
      `p50 ${percentile(
        [...xs].sort((a, b) => a - b),
        0.5
      ).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms (${xs.length} launches)`;
    console.log(
      `First meaningful render (patient view with charts, findings and the proposal; ${scenario.openFindings} open finding):`
    );
    console.log(
      `  from the launcher's Launch click (discovery, authorize, token, data, render): ${fmt(launchToRender)}`
    );
    console.log(`  in the app, from FHIR.oauth2.ready() to the rendered view:                   ${fmt(inApp)}`);
    console.log('  goal: <= 1000 ms on the embedded server');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
