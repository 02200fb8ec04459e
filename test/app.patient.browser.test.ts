import type { AuditEvent, Observation, Patient } from '@medplum/fhirtypes';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
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
    `\n*** SKIPPED: the patient page browser test needs Chromium at ${CHROMIUM} (apt-get install chromium). ` +
      'It did NOT run. ***\n'
  );
}
const browserTest = haveChromium ? test : test.skip;

jest.setTimeout(180_000);

function nameOf(p: Patient): string {
  const n = p.name?.[0];
  return n?.text ?? [...(n?.given ?? []), n?.family ?? ''].join(' ').trim();
}

describe("the patient's own page in headless Chromium, after a standalone patient launch", () => {
  let dir: string;
  let store: SqliteStore;
  let server: DoorServer;
  let scenario: ClinicianScenario;
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!haveChromium) {
      return;
    }
    dir = mkdtempSync(join(tmpdir(), 'twin-patient-browser-'));
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

  async function ready(page: Page, errors: string[]): Promise<void> {
    await page
      .waitForSelector('body[data-ready]', { state: 'attached', timeout: 60_000 })
      .catch(async (err: unknown) => {
        throw new Error(
          `${String(err)}\nURL ${page.url()}\n${errors.join('\n')}\n${(await page.content()).slice(0, 2000)}\n${server.logLines.slice(-15).join('\n')}`
        );
      });
    expect(await page.getAttribute('body', 'data-ready')).toBe('true');
  }

  browserTest(
    'patient A signs in as themselves: their own twin in plain words, nothing of B, and who read it',
    async () => {
      const a = await store.repo.readResource<Patient>('Patient', scenario.patientId);
      const b = await store.repo.readResource<Patient>('Patient', scenario.otherPatientId);
      const bObservations = await store.repo.searchResources<Observation>({
        resourceType: 'Observation',
        filters: [{ code: 'subject', operator: 'eq', value: `Patient/${scenario.otherPatientId}` }],
      });
      expect(bObservations.length).toBeGreaterThan(0);
      const page = await (browser as Browser).newPage({ viewport: { width: 420, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('console', (m) => errors.push(`console: ${m.text()}`));

      // The app's patient launch URL, standalone: only the FHIR server's address is given.
      await page.goto(`${server.origin}/app/patient-launch.html?iss=${encodeURIComponent(server.baseUrl)}`);
      await page.waitForSelector('#patient_user');
      await expect(page.textContent('h2')).resolves.toContain('I am the patient');
      await page.selectOption('#patient_user', scenario.patientId);
      await page.click('#patient-sign-in');
      await ready(page, errors);
      expect({ errors, failed: server.logLines.filter((l) => / [45]\d\d /.test(l)) }).toEqual({
        errors: [],
        failed: [],
      });
      expect(page.url()).not.toMatch(/[?&]code=/);

      // A's own twin, in plain words; computed things are estimates.
      await expect(page.textContent('h1')).resolves.toContain(nameOf(a));
      const usual = (await page.textContent('[data-testid="usual-ranges"]')) ?? '';
      expect(usual).toMatch(/Your usual resting heart rate is \d+(\.\d)?–\d+(\.\d)? bpm\. estimate/);
      const noticed = (await page.textContent('[data-testid="noticed"]')) ?? '';
      expect(noticed).toContain('From ');
      expect(noticed).toContain('Waiting for your clinician to look at it.');
      await expect(page.textContent('[data-testid="plans"]')).resolves.toContain(
        'Proposed: waiting for your clinician to decide.'
      );
      await expect(page.textContent('[data-testid="recent-days"]')).resolves.toMatch(/usual for you/);
      await expect(page.textContent('[data-testid="sources"]')).resolves.toMatch(
        /From your Wrist-worn wearable \(model A\), via demo data/
      );
      // No jargon on the page: no z-scores, codes or resource names.
      const text = (await page.textContent('main')) ?? '';
      expect(text).not.toMatch(/\bz\b|RiskAssessment|Observation|CarePlan|LOINC|baseline/);

      // Nothing of patient B: not the name, not the ids.
      const html = await page.content();
      expect(html).not.toContain(nameOf(b));
      expect(html).not.toContain(scenario.otherPatientId);
      for (const o of bObservations.slice(0, 50)) {
        expect(html).not.toContain(o.id ?? '');
      }

      // A's token, as the app holds it, cannot fetch B's Observation.
      const token = await page.evaluate(() => {
        const key = JSON.parse(sessionStorage.getItem('SMART_KEY') ?? '""') as string;
        const state = JSON.parse(sessionStorage.getItem(key) ?? '{}') as { tokenResponse?: { access_token?: string } };
        return state.tokenResponse?.access_token ?? '';
      });
      expect(token).not.toBe('');
      const refused = await fetch(`${server.baseUrl}/Observation/${bObservations[0]?.id ?? ''}`, {
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/fhir+json' },
      });
      expect([403, 404]).toContain(refused.status);
      const refusedSearch = await fetch(`${server.baseUrl}/Observation?patient=${scenario.otherPatientId}`, {
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/fhir+json' },
      });
      expect(refusedSearch.status).toBe(403);

      // The visit is audited: one AuditEvent names the patient user reading their own record, and the page lists it.
      await server.auditTrail?.flush();
      const events = await store.repo.searchResources<AuditEvent>({ resourceType: 'AuditEvent' });
      const mine = events.filter((e) => e.agent?.[0]?.who?.reference === `Patient/${scenario.patientId}`);
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.every((e) => e.entity?.[0]?.what?.reference === `Patient/${scenario.patientId}`)).toBe(true);
      expect(events.some((e) => e.entity?.[0]?.what?.reference === `Patient/${scenario.otherPatientId}`)).toBe(false);
      await page.reload();
      await ready(page, errors);
      const access = (await page.textContent('[data-testid="access"]')) ?? '';
      expect(access).toContain(`You (${nameOf(a)})`);
      expect(access).toContain('using recovery-twin-app');
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'patient-page.png'), fullPage: true });
      await page.close();
    }
  );
});
