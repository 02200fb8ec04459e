import { MemoryRepository } from '@medplum/fhir-router';
import { Command } from 'commander';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerCommands, type CliDependencies } from '../src/cli/commands';
import { backendServicesEnv, engineSettings } from '../src/cli/engineSettings';
import { packageRoot } from '../src/fhir/packageRoot';
import { checkEngineConfig, checkEngineConfigFile, readEngineConfigFile } from '../src/ops/engineConfigFile';
import { TEST_RESOURCES } from './support/testServer';

const EXAMPLE = join(packageRoot(), 'config', 'twin.example.json');
const dir = mkdtempSync(join(tmpdir(), 'twin-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

function problemsOf(value: unknown): Record<string, string> {
  const check = checkEngineConfig(value);
  return check.ok ? {} : Object.fromEntries(check.problems.map((p) => [p.pointer, p.message]));
}

describe('the configuration file (config/twin.schema.json)', () => {
  test('the example passes', () => {
    const check = checkEngineConfigFile(EXAMPLE);
    expect(check).toMatchObject({ ok: true });
  });

  test('an empty file is valid: every setting has a default', () => {
    expect(checkEngineConfig({})).toEqual({ ok: true, config: {} });
  });

  test('bad values fail with the JSON pointer of each', () => {
    const problems = problemsOf({
      server: { port: 70000, seed: 'yes', colour: 'blue' },
      auth: { mode: 'sometimes' },
      fhir: { baseUrl: 'not a url' },
      automation: { plateau: { days: 2 } },
      queue: { concurrency: 0 },
      extra: true,
    });
    expect(Object.keys(problems).sort()).toEqual([
      '/auth/mode',
      '/automation/plateau/days',
      '/extra',
      '/fhir/baseUrl',
      '/queue/concurrency',
      '/server/colour',
      '/server/port',
      '/server/seed',
    ]);
    expect(problems['/auth/mode']).toBe('must be one of "local", "external", "open"');
    expect(problems['/extra']).toMatch(/not a setting/);
  });

  test('external auth needs its issuer', () => {
    expect(problemsOf({ auth: { mode: 'external' } })).toEqual({ '/auth/issuer': 'is required here' });
  });

  test('a secret written in the file is refused, naming the environment variable to use instead', () => {
    const problems = problemsOf({
      fhir: { backendServices: { clientId: 'engine', privateKey: '-----BEGIN', clientSecret: 's' } },
      queue: { password: 'p', redisUrl: 'redis://:p@h' },
      auth: { loginPasscode: '1234' },
      apiKey: 'k',
    });
    expect(problems['/fhir/backendServices/privateKey']).toMatch(/secret.*set SMART_JWKS_FILE instead/);
    expect(problems['/fhir/backendServices/clientSecret']).toMatch(/SMART_JWKS_FILE/);
    expect(problems['/queue/password']).toMatch(/set REDIS_URL/);
    expect(problems['/queue/redisUrl']).toMatch(/set REDIS_URL/);
    expect(problems['/auth/loginPasscode']).toMatch(/TWIN_LOGIN_PASSCODE/);
    expect(problems['/apiKey']).toMatch(/secret/);
    // Settings whose names merely contain a secret-looking word are not refused.
    expect(problemsOf({ fhir: { backendServices: { tokenUrl: 'https://idp.example/token' } } })).toEqual({});
  });

  test('what the schema cannot say: cron patterns, IANA time zones, minDays within days', () => {
    expect(
      problemsOf({
        automation: { timezone: 'Mars/Olympus', refresh: { cron: 'every minute' }, plateau: { days: 5, minDays: 7 } },
        server: { timeZone: 'Nowhere' },
      })
    ).toEqual({
      '/automation/refresh/cron': '"every minute" is not a cron pattern',
      '/automation/timezone': '"Mars/Olympus" is not an IANA time zone',
      '/server/timeZone': '"Nowhere" is not an IANA time zone',
      '/automation/plateau/minDays': 'must not exceed plateau.days',
    });
  });

  test('a file that is not JSON, or not there, is one problem at the root', () => {
    expect(checkEngineConfigFile(file('broken.json', '{ "server": '))).toMatchObject({
      ok: false,
      problems: [{ pointer: '', message: expect.stringMatching(/^not JSON/) as string }],
    });
    expect(checkEngineConfigFile(join(dir, 'missing.json'))).toMatchObject({
      ok: false,
      problems: [{ pointer: '', message: expect.stringMatching(/ENOENT/) as string }],
    });
    expect(() => readEngineConfigFile(file('bad.json', { server: { port: -1 } }))).toThrow(/\/server\/port/);
  });
});

describe('effective settings', () => {
  test('environment over file over defaults; backend-services settings fill the SMART_* variables', () => {
    const config = readEngineConfigFile(EXAMPLE);
    const s = engineSettings(config, { PORT: '9999', TWIN_AUTH: 'open' });
    expect(s.port).toBe(9999);
    expect(s.auth).toBe('open');
    expect(s.host).toBe('127.0.0.1');
    expect(s.timeZone).toBe('Europe/Paris');
    expect(s.automation.timezone).toBe('Europe/Paris');
    expect(s.automation.plateau).toEqual({ cron: '30 7 * * *', enabled: true, days: 14, minDays: 10, tolerance: 0.25 });
    expect(s.queue).toEqual({ redis: false, workers: true, concurrency: 4, prefix: 'recovery-twin', lockMs: 30000 });
    const defaults = engineSettings({}, {});
    expect(defaults).toMatchObject({ port: 8080, host: '127.0.0.1', dataDir: './data', seed: true, auth: 'local' });
    expect(defaults.automationInServe).toBe(false);
    const env = backendServicesEnv(s, { SMART_JWKS_FILE: '/run/secrets/jwks.json' });
    expect(env).toMatchObject({
      SMART_CLIENT_ID: 'recovery-twin-engine',
      SMART_SCOPES: 'system/*.rs system/*.cud',
      SMART_ALG: 'RS384',
      SMART_JWKS_FILE: '/run/secrets/jwks.json',
    });
    expect(engineSettings(config, { SMART_CLIENT_ID: 'from-env' }).backendServices?.clientId).toBe('from-env');
  });
});

describe('twin config check', () => {
  function program(env: NodeJS.ProcessEnv): { root: Command; lines: string[]; errors: () => string } {
    const lines: string[] = [];
    let err = '';
    const deps: CliDependencies = {
      openRepository: () =>
        Promise.resolve({ repo: new MemoryRepository(), close: () => undefined, supports: TEST_RESOURCES }),
      version: '0.0.0',
      env,
      log: (line) => lines.push(line),
    };
    const root = new Command('twin').exitOverride();
    registerCommands(root, deps);
    const visit = (c: Command): void => {
      c.exitOverride().configureOutput({ writeOut: () => undefined, writeErr: (s) => (err += s) });
      c.commands.forEach(visit);
    };
    visit(root);
    return { root, lines, errors: () => err };
  }

  test('ok and the effective settings, secrets shown only as set or not set', async () => {
    const { root, lines } = program({
      SMART_JWKS_FILE: '/run/secrets/jwks.json',
      REDIS_URL: 'redis://:hunter2@r:6379',
    });
    await root.parseAsync(['node', 'twin', 'config', 'check', EXAMPLE]);
    expect(lines[0]).toBe(`ok ${EXAMPLE}`);
    const text = lines.join('\n');
    expect(text).toContain('server: 127.0.0.1:8080');
    expect(text).toContain('SMART_JWKS_FILE set');
    expect(text).toContain('BullMQ on Redis (REDIS_URL set)');
    expect(text).toContain('refresh "*/15 * * * *" on');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('/run/secrets');
  });

  test('each problem with its pointer, and exit code 1', async () => {
    const bad = file('bad-check.json', { server: { port: 'eighty' }, queue: { password: 'hunter2' } });
    const { root, lines, errors } = program({});
    await expect(root.parseAsync(['node', 'twin', 'config', 'check', bad])).rejects.toMatchObject({ exitCode: 1 });
    expect(lines).toEqual([
      'error /server/port: must be integer',
      expect.stringMatching(/^error \/queue\/password: looks like a secret.*REDIS_URL/) as string,
    ]);
    expect(errors()).toContain('2 problem(s)');
  });
});

describe('twin automate --config', () => {
  function automate(): { root: Command; lines: string[] } {
    const lines: string[] = [];
    const deps: CliDependencies = {
      openRepository: () =>
        Promise.resolve({ repo: new MemoryRepository(), close: () => undefined, supports: TEST_RESOURCES }),
      version: '0.0.0',
      env: {},
      log: (line) => lines.push(line),
    };
    const root = new Command('twin').exitOverride();
    registerCommands(root, deps);
    root.commands.forEach((c) => c.exitOverride().configureOutput({ writeErr: () => undefined }));
    return { root, lines };
  }

  test('reads the schedules and the data folder from the file', async () => {
    const config = file('automate.json', {
      server: { dataDir: join(dir, 'automate-data') },
      automation: { timezone: 'Europe/Paris', staleData: { enabled: false } },
    });
    const disabled = automate();
    await expect(
      disabled.root.parseAsync(['node', 'twin', 'automate', '--config', config, '--once', 'stale-data'])
    ).rejects.toMatchObject({ exitCode: 1, message: expect.stringContaining('refresh, plateau') as string });
    const plateau = automate();
    await plateau.root.parseAsync(['node', 'twin', 'automate', '--config', config, '--once', 'plateau']);
    expect(JSON.parse(plateau.lines[0] ?? '{}')).toMatchObject({ patientsWithActivePlan: 0 });
  });

  test('an invalid file stops it with the pointer of each problem', async () => {
    const bad = file('automate-bad.json', { automation: { plateau: { tolerance: 0 } } });
    await expect(
      automate().root.parseAsync(['node', 'twin', 'automate', '--config', bad, '--once', 'plateau'])
    ).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringContaining('/automation/plateau/tolerance') as string,
    });
  });
});
