import { MemoryRepository } from '@medplum/fhir-router';
import type { FhirRepository } from '@medplum/fhir-router';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppOptions } from '../../src/server/app';
import { createApp, FHIR_BASE_PATH } from '../../src/server/app';
import { buildCapabilityStatement } from '../../src/server/capabilityStatement';
import type { ResourceSupport } from '../../src/server/capabilityStatement';

export const TEST_CLOCK_DATE = new Date('2025-01-02T03:04:05.000Z');

/** What MemoryRepository really does for the types the tests use. */
export const TEST_RESOURCES: ResourceSupport[] = (['Patient', 'Observation'] as const).map((type) => ({
  type,
  interactions: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'],
  searchParams: [{ name: '_id', type: 'token' }],
  versioning: 'versioned-update',
  conditionalCreate: true,
  conditionalUpdate: true,
}));

export function testCapabilityStatement(baseUrl: string): CapabilityStatement {
  return buildCapabilityStatement({
    baseUrl,
    software: { name: 'recovery-twin', version: '0.0.0-test' },
    resources: TEST_RESOURCES,
    systemInteractions: ['transaction', 'batch'],
    formats: ['application/fhir+json', 'json'],
    patchFormats: ['application/json-patch+json'],
    clock: () => TEST_CLOCK_DATE,
  });
}

export interface TestServer {
  /** FHIR base, e.g. http://127.0.0.1:41234/fhir/R4 */
  readonly baseUrl: string;
  /** http://127.0.0.1:41234 */
  readonly origin: string;
  readonly repo: FhirRepository;
  readonly logLines: string[];
  setReady(ready: boolean): void;
  close(): Promise<void>;
}

/**
 * Starts the real app on an ephemeral loopback port. The port is only known after listen(), and the app needs
 * the base URL for Location headers, so the server listens first and the app is attached after.
 */
export async function startTestServer(overrides: Partial<AppOptions> = {}): Promise<TestServer> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const baseUrl = `${origin}${FHIR_BASE_PATH}`;
  const repo = overrides.repo ?? new MemoryRepository();
  const logLines: string[] = [];
  let ready = true;
  const app = createApp({
    repo,
    baseUrl,
    capabilityStatement: testCapabilityStatement(baseUrl),
    isReady: () => ready,
    log: (line) => logLines.push(line),
    ...overrides,
  });
  server.on('request', app);
  return {
    baseUrl,
    origin,
    repo,
    logLines,
    setReady: (value: boolean): void => {
      ready = value;
    },
    close: async (): Promise<void> => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
