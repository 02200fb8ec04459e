import type { Resource } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhirClient';

/** The FHIR server a CLI command works on, with the validation its writes need, and how to let it go. */
export interface EngineTarget {
  readonly client: FhirClient;
  readonly validate?: (resource: Resource) => void;
  close(): void;
}

/**
 * `--fhir URL`: any FHIR R4 server over HTTP, through a validating client: every resource is checked against the
 * project's profiles before it is sent, since that server may not know them. Otherwise the embedded store in `dataDir`, opened
 * in-process: the store validates every write against the same profiles itself, so the engine does not repeat it.
 */
export async function openEngineTarget(flags: {
  readonly fhir?: string;
  readonly dataDir: string;
  /** Where the backend-services settings are read (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}): Promise<EngineTarget> {
  if (flags.fhir) {
    const { HttpFhirClient } = await import('../fhir/httpFhirClient');
    const { createValidator } = await import('../fhir/validation');
    const { validatingClient } = await import('../fhir/validatingClient');
    const { backendServicesFromEnv } = await import('../fhir/smart/backendServicesFromEnv');
    const validator = createValidator();
    // SMART Backend Services when SMART_CLIENT_ID is set (src/fhir/smart/backendServicesFromEnv.ts); else no token.
    const auth = backendServicesFromEnv(flags.fhir, flags.env);
    const http = new HttpFhirClient({
      baseUrl: flags.fhir,
      ...(auth ? { authorization: () => auth.authorization(), onUnauthorized: () => auth.invalidate() } : {}),
    });
    // Wrapped once here: every transaction the stages send is validated before it leaves (src/fhir/validatingClient.ts).
    return {
      client: validatingClient(http, (r) => validator.validate(r)),
      close: () => undefined,
    };
  }
  const { openSqliteStore } = await import('../store/sqliteStore');
  const { createEmbeddedRouter } = await import('../store/transactionBundle');
  const { LocalFhirClient } = await import('../fhir/localFhirClient');
  const { loadStoreKey } = await import('../store/storeKey');
  // An encrypted store opens with its key from TWIN_STORE_KEY / TWIN_STORE_KEY_FILE, and is refused without it.
  const key = loadStoreKey({ env: flags.env ?? process.env });
  const store = await openSqliteStore(flags.dataDir, key ? { key } : {});
  return { client: new LocalFhirClient(store.repo, createEmbeddedRouter()), close: () => store.close() };
}
