import { allOk } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { CapabilityStatement, OperationDefinition, Parameters } from '@medplum/fhirtypes';
import express from 'express';
import { startServer, type RunningServer } from '../src/server/embeddedServer';
import type { OperationModule } from '../src/server/operations/operationModule';
import { TEST_RESOURCES } from './support/testServer';

const ECHO_DEFINITION: OperationDefinition = {
  resourceType: 'OperationDefinition',
  id: 'Patient-echo',
  url: 'https://example.org/OperationDefinition/Patient-echo',
  name: 'Echo',
  status: 'active',
  kind: 'operation',
  code: 'echo',
  resource: ['Patient'],
  system: false,
  type: false,
  instance: true,
};

/** One operation module, as a new operation would be added: the server routes and declares it from this alone. */
const echo: OperationModule = {
  name: 'echo',
  resourceTypes: ['Patient'],
  levels: ['instance'],
  methods: ['POST'],
  definitionUrl: ECHO_DEFINITION.url as string,
  operationDefinition: ECHO_DEFINITION,
  handler: async (req) => [
    allOk,
    { resourceType: 'Parameters', parameter: [{ name: 'id', valueString: req.params.id }] } satisfies Parameters,
  ],
};

describe('server assembly: operation modules and door mounts', () => {
  let running: RunningServer;

  beforeAll(async () => {
    const cds = express.Router();
    cds.get('/', (_req, res) => {
      res.json({ services: [] });
    });
    cds.get('/boom', () => {
      throw new Error('door failure');
    });
    running = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: '/tmp/unused',
      seed: false,
      log: () => undefined,
      openRepository: () =>
        Promise.resolve({
          repo: new MemoryRepository(),
          close: () => undefined,
          supports: [...TEST_RESOURCES, { ...TEST_RESOURCES[0], type: 'OperationDefinition' }],
        }),
      operations: [echo],
      mounts: [{ path: '/cds-services', handler: cds, description: 'CDS Hooks' }],
    });
  });

  afterAll(async () => {
    await running.close();
  });

  test('a module is routed, declared on its type, and its OperationDefinition is readable', async () => {
    const answer = (await (
      await fetch(`${running.baseUrl}/Patient/p9/$echo`, { method: 'POST' })
    ).json()) as Parameters;
    expect(answer.parameter?.[0]?.valueString).toBe('p9');
    const statement = (await (await fetch(`${running.baseUrl}/metadata`)).json()) as CapabilityStatement;
    const patient = statement.rest?.[0]?.resource?.find((r) => r.type === 'Patient');
    expect(patient?.operation).toEqual([{ name: 'echo', definition: ECHO_DEFINITION.url }]);
    const definition = (await (
      await fetch(`${running.baseUrl}/OperationDefinition/Patient-echo`)
    ).json()) as OperationDefinition;
    expect(definition.url).toBe(ECHO_DEFINITION.url);
    // Not declared on Observation, so not served there.
    expect((await fetch(`${running.baseUrl}/Observation/o1/$echo`, { method: 'POST' })).status).toBe(404);
  });

  test('a door is mounted outside the FHIR base, behind the same error handler', async () => {
    const discovery = await fetch(`${running.origin}/cds-services`);
    expect(await discovery.json()).toEqual({ services: [] });
    const failed = await fetch(`${running.origin}/cds-services/boom`);
    expect(failed.status).toBe(500);
    expect(JSON.stringify(await failed.json())).not.toContain('door failure');
  });

  test('a door cannot take the FHIR base or /healthz', async () => {
    const start = (path: string): Promise<RunningServer> =>
      startServer({
        port: 0,
        host: '127.0.0.1',
        dataDir: '/tmp/unused',
        seed: false,
        log: () => undefined,
        openRepository: () =>
          Promise.resolve({ repo: new MemoryRepository(), close: () => undefined, supports: TEST_RESOURCES }),
        mounts: [{ path, handler: express.Router() }],
      });
    await expect(start('/fhir/R4/x')).rejects.toThrow(/cannot be mounted/);
    await expect(start('/healthz')).rejects.toThrow(/cannot be mounted/);
  });
});
