import type { CarePlan, Patient, ServiceRequest, Task } from '@medplum/fhirtypes';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { chromium } from 'playwright-core';
import { buildApp } from '../scripts/buildApp';
import { openEvidenceEngine } from '../src/evidence/evidenceEngine';
import { twinAppClient } from '../src/server/clinicianDoor';
import { registerEvidenceOperations } from '../src/server/evidenceOperations';
import { openSqliteStore, type SqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';
import { seedClinicianScenario, type ClinicianScenario } from './support/clinicianScenario';
import { startDoorServer, type DoorServer } from './support/doorServer';

/** Debian's Chromium (installed by .ci/run); a test tool's own browser download does not work here. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(__dirname, '..', '.tmp', 'artifacts');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(
    `\n*** SKIPPED: the SMART app browser tests need Chromium at ${CHROMIUM} (apt-get install chromium). ` +
      'They did NOT run. ***\n'
  );
}
const browserTest = haveChromium ? test : test.skip;

jest.setTimeout(180_000);

describe('the SMART app in headless Chromium, launched as an EHR would', () => {
  let dir: string;
  let store: SqliteStore;
  let server: DoorServer;
  let scenario: ClinicianScenario;
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!haveChromium) {
      return;
    }
    dir = mkdtempSync(join(tmpdir(), 'twin-app-browser-'));
    const appBuild = await buildApp(join(dir, 'app'));
    store = await openSqliteStore(join(dir, 'store'), { baseUrl: 'http://127.0.0.1/fhir/R4', durability: 'normal' });
    const router = createEmbeddedRouter();
    const evidence = await openEvidenceEngine({ env: {}, log: () => undefined });
    const now = new Date();
    registerEvidenceOperations(router, { ...evidence, now: () => now.toISOString() });
    scenario = await seedClinicianScenario(store.repo, router, evidence, now);
    server = await startDoorServer({
      repo: store.repo,
      router,
      appDir: appBuild.outDir,
      clients: (origin) => [twinAppClient(origin)],
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    store?.close();
    if (dir) {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Signs in at the EHR-launch simulator and launches the app for a patient. */
  async function launch(page: import('playwright-core').Page, patientId: string): Promise<void> {
    // The launch link printed at start preselects the patient.
    await page.goto(`${server.issuer}/launcher?patient=${encodeURIComponent(patientId)}`);
    expect(await page.inputValue('#patient')).toBe(patientId);
    await page.selectOption('#app', 'recovery-twin-app');
    await page.selectOption('#practitioner', scenario.practitioner);
    await page.click('button[type="submit"]');
  }

  browserTest(
    'EHR launch -> patient view with the anomaly -> approve -> CarePlan active with its requests',
    async () => {
      const page = await (browser as Browser).newPage({ viewport: { width: 420, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('console', (m) => errors.push(`console: ${m.text()}`));
      await launch(page, scenario.patientId);
      await page
        .waitForSelector('body[data-ready]', { state: 'attached', timeout: 60_000 })
        .catch(async (err: unknown) => {
          throw new Error(
            `${String(err)}\nURL ${page.url()}\n${errors.join('\n')}\n${(await page.content()).slice(0, 2000)}\n${server.logLines.slice(-15).join('\n')}`
          );
        });
      expect(await page.getAttribute('body', 'data-ready')).toBe('true');
      expect({ errors, failed: server.logLines.filter((l) => / [45]\d\d /.test(l)) }).toEqual({
        errors: [],
        failed: [],
      });
      // No token in the address bar after launch (the code and state are in the URL only until fhirclient reads them).
      expect(page.url()).not.toContain('access_token');
      // ...and the one-time code is gone from the address bar and history once exchanged.
      expect(page.url()).not.toMatch(/[?&]code=/);

      await expect(page.textContent('h1')).resolves.toContain('Recovery twin');
      // The clinician by name (their fhirUser resource, user/Practitioner.r), not by reference.
      await expect(page.textContent('header')).resolves.toContain('Signed in as Dr Robin Review.');
      const findings = await page.textContent('section[aria-labelledby="h-findings"]');
      expect(scenario.openFindings).toBeGreaterThan(0);
      expect(findings).toContain('Since ');
      await expect(page.textContent('section.proposal')).resolves.toContain('What approval will order');
      expect(await page.locator('.chart').count()).toBeGreaterThan(1);
      // The care-team list (user/Task.rs, user/Patient.rs): this patient, by name and birth date (not by reference),
      // with their open reviews.
      const listed = await store.repo.readResource<Patient>('Patient', scenario.patientId);
      const team = (await page.textContent('section[aria-labelledby="h-team"]')) ?? '';
      const n = listed.name?.[0];
      const name = n?.text ?? [...(n?.given ?? []), n?.family ?? ''].join(' ').trim();
      expect(listed.birthDate).toBeDefined();
      expect(team).toContain(`${name}, born ${listed.birthDate ?? ''}: 2 open reviews`);
      expect(team).not.toContain('Patient/');
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'patient-view.png'), fullPage: true });
      await page.screenshot({ path: join(ARTIFACTS, 'patient-view-top.png') });

      // The finding: confirmed by the clinician, which completes its review Task in their name.
      await page.getByRole('button', { name: 'Confirm finding' }).first().click();
      await page
        .locator('[data-testid="review-status"]', { hasText: 'finding confirmed' })
        .waitFor({ state: 'attached' });
      const findingTasks = (await store.repo.searchResources<Task>({ resourceType: 'Task' })).filter(
        (t) =>
          (t.focus?.reference ?? '').startsWith('RiskAssessment/') &&
          t.for?.reference === `Patient/${scenario.patientId}`
      );
      expect(findingTasks.map((t) => [t.status, t.businessStatus?.text])).toContainEqual([
        'completed',
        'finding confirmed',
      ]);

      // Keyboard-usable: focus the labelled button and press Enter, as a clinician without a mouse would.
      await page.getByRole('button', { name: 'Approve plan' }).focus();
      await page.keyboard.press('Enter');
      await page.locator('[data-testid="review-status"]', { hasText: 'active' }).waitFor({ state: 'attached' });
      await expect(page.textContent('[data-testid="review-status"]')).resolves.toContain('active');

      const carePlan = await store.repo.readResource<CarePlan>('CarePlan', scenario.carePlanId);
      expect(carePlan.status).toBe('active');
      const task = await store.repo.readResource<Task>('Task', scenario.taskId);
      expect(task.status).toBe('completed');
      expect(task.owner?.reference).toBe('Practitioner/dr1');
      const requests = [
        ...(await store.repo.searchResources<ServiceRequest>({
          resourceType: 'ServiceRequest',
          filters: [{ code: 'based-on', operator: 'eq', value: `CarePlan/${scenario.carePlanId}` }],
        })),
      ];
      const tasks = (await store.repo.searchResources<Task>({ resourceType: 'Task' })).filter((t) =>
        (t.basedOn ?? []).some((b) => b.reference === `CarePlan/${scenario.carePlanId}`)
      );
      expect(requests.length + tasks.length).toBeGreaterThan(0);
      await page.close();
    }
  );

  browserTest('a tampered state on the way back is refused: no token is requested, the app says why', async () => {
    const page = await (browser as Browser).newPage();
    const tokenRequests: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/auth/token')) {
        tokenRequests.push(r.url());
      }
    });
    await page.route('**/auth/authorize?**', async (route) => {
      const response = await route.fetch({ maxRedirects: 0 });
      const location = new URL(response.headers()['location'] ?? '', route.request().url());
      location.searchParams.set('state', crypto.randomUUID());
      await route.fulfill({ status: 303, headers: { location: location.toString() } });
    });
    await launch(page, scenario.otherPatientId);
    await page.waitForSelector('body[data-ready]', { state: 'attached', timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-ready')).toBe('error');
    await expect(page.textContent('[role="alert"]')).resolves.toContain('could not start');
    expect(tokenRequests).toEqual([]);
    await page.close();
  });
});
