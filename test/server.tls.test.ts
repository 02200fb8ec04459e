/**
 * HTTPS on the embedded server (`twin serve --tls-cert FILE --tls-key FILE`): a client that trusts the certificate
 * reads the FHIR API over TLS, and nothing is answered in clear on the same port. The certificate is made at test
 * time with openssl; without openssl, a committed self-signed test certificate for 127.0.0.1 (test/support/tls) is used.
 */
import { MemoryRepository } from '@medplum/fhir-router';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../src/server/embeddedServer';
import { TEST_RESOURCES } from './support/testServer';

function makeCertificate(dir: string): { cert: Buffer; key: Buffer } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' }
    );
    return { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  } catch {
    const fixtures = join(__dirname, 'support', 'tls');
    return {
      cert: readFileSync(join(fixtures, 'localhost-cert.pem')),
      key: readFileSync(join(fixtures, 'localhost-key.pem')),
    };
  }
}

function get(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS', () => {
  let dir: string;
  let running: RunningServer;
  let cert: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'twin-tls-'));
    const tls = makeCertificate(dir);
    cert = tls.cert;
    running = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      seed: false,
      log: () => undefined,
      tls,
      openRepository: () =>
        Promise.resolve({ repo: new MemoryRepository(), close: () => undefined, supports: TEST_RESOURCES }),
    });
  });

  afterAll(async () => {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a client trusting the certificate reads the API over https; the base URL says https', async () => {
    expect(running.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/fhir\/R4$/);
    const metadata = await get(`${running.baseUrl}/metadata`, cert);
    expect(metadata.status).toBe(200);
    const statement = JSON.parse(metadata.body) as CapabilityStatement;
    expect(statement.implementation?.url).toBe(running.baseUrl);
    expect((await get(`${running.origin}/healthz`, cert)).status).toBe(200);
  });

  test('a client that does not trust the certificate is refused, and plain HTTP gets no answer', async () => {
    await expect(get(`${running.baseUrl}/metadata`, Buffer.from(''))).rejects.toThrow();
    const plain = await new Promise<string>((resolve) => {
      const req = httpRequest(`${running.origin.replace('https:', 'http:')}/healthz`, (res) => {
        resolve(`answered ${res.statusCode}`);
        res.resume();
      });
      req.on('error', (err) => resolve(`error ${err.message}`));
      req.end();
    });
    expect(plain).not.toMatch(/answered 200/);
  });
});
