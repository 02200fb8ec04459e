import { MemoryRepository } from '@medplum/fhir-router';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer, type StartServerOptions } from '../src/server/embeddedServer';
import { TEST_RESOURCES } from './support/testServer';

interface ReadyBody {
  status: string;
  checks: Record<string, { ok: boolean; status: string }>;
}

const servers: RunningServer[] = [];
const others: Server[] = [];
const dir = mkdtempSync(join(tmpdir(), 'twin-readyz-'));

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const s of others.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function serve(options: Partial<StartServerOptions> = {}, repo = new MemoryRepository()): Promise<RunningServer> {
  const running = await startServer({
    port: 0,
    host: '127.0.0.1',
    dataDir: dir,
    seed: false,
    log: () => undefined,
    openRepository: () => Promise.resolve({ repo, close: () => undefined, supports: TEST_RESOURCES }),
    ...options,
  });
  servers.push(running);
  return running;
}

async function readyz(running: RunningServer): Promise<{ status: number; body: ReadyBody }> {
  const res = await fetch(`${running.origin}/readyz`);
  return { status: res.status, body: (await res.json()) as ReadyBody };
}

/** A stand-in remote server whose /metadata answers as told (or never). */
async function remote(answer: 'capabilities' | 'error' | 'hang'): Promise<string> {
  const server = createServer((req, res) => {
    if (answer === 'hang') {
      return; // never answers
    }
    if (answer === 'error' || !req.url?.endsWith('/metadata')) {
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/fhir+json' });
    res.end(
      JSON.stringify({ resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1' })
    );
  });
  others.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir/R4`;
}

describe('/readyz', () => {
  test('200 with each check when the store answers; the learned detector absent is "statistical only", not a failure', async () => {
    const running = await serve({ learnedModelDir: join(dir, 'no-model-here') });
    const { status, body } = await readyz(running);
    expect(status).toBe(200);
    expect(body.status).toBe('ready');
    expect(body.checks.store).toEqual({ ok: true, status: 'answers' });
    expect(body.checks.models).toEqual({ ok: true, status: 'statistical only (learned detector not installed)' });
    // /healthz is unchanged: liveness, the same body as before.
    const health = await fetch(`${running.origin}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  test('503 while seeding, like /healthz', async () => {
    let finish: () => void = () => undefined;
    const seeding = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const lines: string[] = [];
    const starting = serve({
      seed: true,
      seedRepository: () => seeding,
      log: (line) => lines.push(line),
    });
    let url: string | undefined;
    for (let i = 0; i < 500 && !url; i++) {
      url = /^Readiness: +(\S+)$/.exec(lines.find((l) => l.startsWith('Readiness:')) ?? '')?.[1];
      await new Promise((r) => setTimeout(r, 10));
    }
    const res = await fetch(url as string);
    expect(res.status).toBe(503);
    expect(((await res.json()) as ReadyBody).status).toBe('starting');
    finish();
    const running = await starting;
    expect((await readyz(running)).status).toBe(200);
  });

  test('503 when the store does not answer a read; the body names the failure kind, not its message', async () => {
    const repo = new MemoryRepository();
    const running = await serve({}, repo);
    jest.spyOn(repo, 'searchResources').mockRejectedValue(new TypeError('disk I/O error at /secret/path'));
    const { status, body } = await readyz(running);
    expect(status).toBe(503);
    expect(body.status).toBe('not ready');
    expect(body.checks.store).toEqual({ ok: false, status: 'failed (TypeError)' });
    expect(JSON.stringify(body)).not.toContain('/secret/path');
  });

  test('a remote FHIR server is checked with GET [base]/metadata, within the timeout', async () => {
    const up = await serve({ remoteFhir: { baseUrl: await remote('capabilities'), timeoutMs: 2000 } });
    expect(await readyz(up)).toMatchObject({
      status: 200,
      body: { checks: { fhir: { ok: true, status: 'answers' } } },
    });

    const failing = await serve({ remoteFhir: { baseUrl: await remote('error'), timeoutMs: 2000 } });
    expect(await readyz(failing)).toMatchObject({
      status: 503,
      body: { checks: { fhir: { ok: false, status: 'metadata answered HTTP 500' } } },
    });

    const hanging = await serve({ remoteFhir: { baseUrl: await remote('hang'), timeoutMs: 150 } });
    expect(await readyz(hanging)).toMatchObject({
      status: 503,
      body: { checks: { fhir: { ok: false, status: 'no answer in 150 ms' } } },
    });
  });

  test('a door cannot take /readyz or /metrics', async () => {
    const handler = (): void => undefined;
    await expect(serve({ mounts: [{ path: '/readyz', handler }] })).rejects.toThrow(/cannot be mounted/);
    await expect(serve({ mounts: [{ path: '/metrics', handler }] })).rejects.toThrow(/cannot be mounted/);
  });
});
