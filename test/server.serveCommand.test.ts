import { MemoryRepository } from '@medplum/fhir-router';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import { Command } from 'commander';
import type { CliDependencies } from '../src/cli/commands';
import { registerCommands } from '../src/cli/commands';
import type { OpenedRepository, OpenRepository, OpenRepositoryContext } from '../src/cli/serveCommand';
import { startServer } from '../src/cli/serveCommand';
import { TEST_RESOURCES } from './support/testServer';

function memoryStore(events: string[], contexts: OpenRepositoryContext[] = []): OpenRepository {
  return (dataDir: string, context: OpenRepositoryContext): Promise<OpenedRepository> => {
    events.push(`open ${dataDir}`);
    contexts.push(context);
    return Promise.resolve({
      repo: new MemoryRepository(),
      close: (): void => {
        events.push('store closed');
      },
      supports: TEST_RESOURCES,
    });
  };
}

describe('startServer', () => {
  test('prints the URLs it serves, is ready after seeding, serves FHIR, and closes server then store', async () => {
    const events: string[] = [];
    const contexts: OpenRepositoryContext[] = [];
    const lines: string[] = [];
    let finishSeeding: () => void = () => undefined;
    const seeding = new Promise<void>((resolve) => {
      finishSeeding = resolve;
    });
    let seededRepo: unknown;

    const starting = startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: '/tmp/twin-test-data',
      seed: true,
      openRepository: memoryStore(events, contexts),
      seedRepository: async (repo) => {
        seededRepo = repo;
        await seeding;
      },
      version: '9.9.9',
      log: (line) => lines.push(line),
      clock: () => new Date('2025-03-04T00:00:00Z'),
    });

    // While seeding, the server already answers /healthz with 503.
    const healthUrl = await waitForLine(lines, /^Health: +(\S+)$/);
    expect((await fetch(healthUrl)).status).toBe(503);
    finishSeeding();
    const running = await starting;

    expect(events).toEqual(['open /tmp/twin-test-data']);
    // The store learns the public base URL once the port is known.
    expect(contexts[0]?.baseUrl()).toBe(running.baseUrl);
    expect(seededRepo).toBeInstanceOf(MemoryRepository);
    expect(lines).toContain(`FHIR R4 base:   ${running.baseUrl}`);
    expect(lines).toContain(`Metadata:       ${running.baseUrl}/metadata`);
    expect(running.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fhir\/R4$/);
    expect((await fetch(`${running.origin}/healthz`)).status).toBe(200);

    const metadata = (await (await fetch(`${running.baseUrl}/metadata`)).json()) as CapabilityStatement;
    expect(metadata.software?.version).toBe('9.9.9');
    expect(metadata.date).toBe('2025-03-04T00:00:00.000Z');
    expect(metadata.rest?.[0]?.resource?.map((r) => r.type)).toEqual(TEST_RESOURCES.map((r) => r.type));
    expect(metadata.patchFormat).toEqual(['application/json-patch+json']);

    await running.close();
    expect(events).toEqual(['open /tmp/twin-test-data', 'store closed']);
    await expect(fetch(`${running.origin}/healthz`)).rejects.toThrow();
    await running.close(); // a second close is harmless
    expect(events).toHaveLength(2);
  });

  test('--no-seed skips the seed loader', async () => {
    const events: string[] = [];
    let seeded = false;
    const running = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: 'd',
      seed: false,
      openRepository: memoryStore(events),
      seedRepository: () => {
        seeded = true;
        return Promise.resolve();
      },
      log: () => undefined,
    });
    try {
      expect(seeded).toBe(false);
      expect((await fetch(`${running.origin}/healthz`)).status).toBe(200);
    } finally {
      await running.close();
    }
  });

  test('a failing seed closes the server and the store and rejects', async () => {
    const events: string[] = [];
    await expect(
      startServer({
        port: 0,
        host: '127.0.0.1',
        dataDir: 'd',
        seed: true,
        openRepository: memoryStore(events),
        seedRepository: () => Promise.reject(new Error('seed failed')),
        log: () => undefined,
      })
    ).rejects.toThrow('seed failed');
    expect(events).toEqual(['open d', 'store closed']);
  });
});

describe('twin CLI registration', () => {
  function program(env: NodeJS.ProcessEnv): { program: Command; output: () => string } {
    let out = '';
    const root = new Command('twin')
      .exitOverride()
      .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
    const deps: CliDependencies = {
      openRepository: memoryStore([]),
      version: '0.0.0',
      env,
      log: () => undefined,
    };
    registerCommands(root, deps);
    for (const command of root.commands) {
      command.exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
    }
    return { program: root, output: () => out };
  }

  test('twin serve --help lists its options with the env defaults', async () => {
    const { program: root, output } = program({ PORT: '9191', DATA_DIR: '/srv/twin' });
    await expect(root.parseAsync(['node', 'twin', 'serve', '--help'])).rejects.toMatchObject({
      code: 'commander.helpDisplayed',
    });
    const help = output();
    expect(help).toContain('--port <n>');
    expect(help).toContain('--host <h>');
    expect(help).toContain('--data-dir <dir>');
    expect(help).toContain('--no-seed');
    expect(help).toContain('9191');
    expect(help).toContain('/srv/twin');
  });

  test('serve rejects a port that is not a TCP port', async () => {
    const { program: root } = program({});
    await expect(root.parseAsync(['node', 'twin', 'serve', '--port', 'eighty'])).rejects.toMatchObject({
      code: 'commander.invalidArgument',
    });
  });
});

async function waitForLine(lines: string[], pattern: RegExp): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    for (const line of lines) {
      const match = pattern.exec(line);
      if (match?.[1]) {
        return match[1];
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no log line matched ${String(pattern)}`);
}
