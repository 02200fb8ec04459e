import { createValidator } from '../src/fhir/validation';
import { fuzzCases, invalidStoredVersions, runFuzz } from './support/serverFuzz';
import { startEmbeddedTestServer, type EmbeddedTestServer } from './support/embeddedTestServer';

/** Seeded and bounded, so CI replays the same requests every time; loopback only. */
const SEED = 16;
const REQUESTS = 1500;

describe('fuzz: the embedded server answers hostile and malformed requests with 4xx, never 5xx, and stores nothing invalid', () => {
  let server: EmbeddedTestServer;

  beforeAll(async () => {
    server = await startEmbeddedTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  test(`${REQUESTS} seeded requests: no 5xx, no invalid write accepted, every stored version valid`, async () => {
    const result = await runFuzz(server.baseUrl, fuzzCases(SEED, REQUESTS));
    expect(result.requests).toBe(REQUESTS);
    expect(result.serverErrorSamples).toEqual([]);
    expect(result.serverErrors).toBe(0);
    expect(result.acceptedInvalidSamples).toEqual([]);
    expect(result.acceptedInvalid).toBe(0);
    // Some traffic was valid and some refused: the fuzz did reach both paths.
    expect(Object.keys(result.byStatus).some((s) => s.startsWith('2'))).toBe(true);
    expect(Object.keys(result.byStatus).some((s) => s.startsWith('4'))).toBe(true);
    expect(invalidStoredVersions(server.store.path, createValidator())).toEqual([]);
    // No unexpected error was logged on the way.
    expect(server.logLines.filter((line) => line.startsWith('error') || line.includes('repository error'))).toEqual([]);
  }, 240_000);
});
