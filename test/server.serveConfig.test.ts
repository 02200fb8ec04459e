import { MemoryRepository } from '@medplum/fhir-router';
import { Command } from 'commander';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerCommands, type CliDependencies, type OperationsWorld } from '../src/cli/commands';
import { TEST_RESOURCES } from './support/testServer';

const dir = mkdtempSync(join(tmpdir(), 'twin-serve-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

interface Started {
  readonly lines: string[];
  readonly worlds: OperationsWorld[];
  readonly done: Promise<void>;
  /** Delivers SIGTERM to the serve command's own handler only (not to the test runner's). */
  stop(): Promise<void>;
}

async function serve(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const lines: string[] = [];
  const worlds: OperationsWorld[] = [];
  const deps: CliDependencies = {
    openRepository: () =>
      Promise.resolve({ repo: new MemoryRepository(), close: () => undefined, supports: TEST_RESOURCES }),
    operations: (world) => {
      worlds.push(world);
      return Promise.resolve([]);
    },
    version: '0.0.0',
    env,
    log: (line) => lines.push(line),
  };
  const root = new Command('twin').exitOverride();
  registerCommands(root, deps);
  root.commands.forEach((c) => c.exitOverride().configureOutput({ writeErr: () => undefined }));
  const before = new Set(process.listeners('SIGTERM'));
  const done = root.parseAsync(['node', 'twin', 'serve', ...args]).then(() => undefined);
  for (let i = 0; i < 1000 && !lines.includes('Ready.'); i++) {
    const failed = await Promise.race([
      done.then(
        () => true,
        () => true
      ),
      new Promise((r) => setTimeout(r, 10)),
    ]);
    if (failed === true) {
      break;
    }
  }
  const added = () => process.listeners('SIGTERM').filter((l) => !before.has(l));
  return {
    lines,
    worlds,
    done,
    stop: async () => {
      const mine = added();
      mine.forEach((l) => l('SIGTERM'));
      await done;
      mine.forEach((l) => process.removeListener('SIGTERM', l));
      process
        .listeners('SIGINT')
        .filter((l) => mine.includes(l))
        .forEach((l) => process.removeListener('SIGINT', l));
    },
  };
}

function origin(lines: readonly string[]): string {
  const health = lines.find((l) => l.startsWith('Health:'))?.split(/\s+/)[1] ?? '';
  return health.replace(/\/healthz$/, '');
}

describe('twin serve --config', () => {
  test('the file sets what flags and env leave alone; a flag wins over the file', async () => {
    const file = configFile('serve.json', {
      server: {
        port: 0,
        host: '127.0.0.1',
        dataDir: join(dir, 'data'),
        seed: false,
        modelDir: join(dir, 'no-model'),
        timeZone: 'Europe/Paris',
      },
      auth: { mode: 'open' },
    });
    const started = await serve(['--config', file, '--data-dir', join(dir, 'from-flag')]);
    try {
      expect(started.lines).toContain('Ready.');
      expect(started.lines).toContain(`Data directory: ${join(dir, 'from-flag')}`);
      expect(started.lines).toContain('Seeding: skipped (--no-seed)');
      expect(started.worlds[0]).toMatchObject({ timeZone: 'Europe/Paris', modelDir: join(dir, 'no-model') });
      const base = origin(started.lines);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { checks: Record<string, unknown> }).checks).toHaveProperty('models');
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
    } finally {
      await started.stop();
    }
    expect(started.lines).toContain('Stopped.');
  });

  test('with automation enabled, serve runs the schedules in-process, reports the queue, and stops them', async () => {
    const file = configFile('automation.json', {
      server: { port: 0, seed: false, dataDir: join(dir, 'auto'), modelDir: join(dir, 'no-model') },
      auth: { mode: 'open' },
      automation: { enabled: true, timezone: 'Europe/Paris', staleData: { enabled: false } },
    });
    const started = await serve(['--config', file]);
    try {
      expect(started.lines).toContain('queue: in-process (no REDIS_URL)');
      expect(started.lines.find((l) => l.startsWith('Automation:'))).toBe(
        'Automation:     refresh "*/15 * * * *", plateau "30 7 * * *" (Europe/Paris, in-process)'
      );
      const body = (await (await fetch(`${origin(started.lines)}/readyz`)).json()) as {
        checks: Record<string, { ok: boolean; status: string }>;
      };
      expect(body.checks.queue).toEqual({ ok: true, status: 'in-process, 0 job(s)' });
    } finally {
      await started.stop();
    }
  });

  test('an invalid file refuses to start, with the pointer of each problem', async () => {
    const file = configFile('bad.json', { server: { port: 'eighty' }, queue: { password: 'x' } });
    const started = await serve(['--config', file]);
    await expect(started.done).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringMatching(/\/server\/port: must be integer.*\/queue\/password: .*REDIS_URL/) as string,
    });
    expect(started.lines).not.toContain('Ready.');
  });
});
