import { invalidInput, notSupported } from '../outcomes';

/** The fields of a SMART configuration document the backend-services client reads (SMART App Launch 2.x conformance.html). */
export interface SmartConfiguration {
  readonly token_endpoint: string;
  readonly token_endpoint_auth_methods_supported?: readonly string[];
  readonly token_endpoint_auth_signing_alg_values_supported?: readonly string[];
  readonly grant_types_supported?: readonly string[];
  readonly scopes_supported?: readonly string[];
}

/**
 * Discovery: `GET {fhirBase}/.well-known/smart-configuration` (SMART App Launch 2.x conformance.html#using-well-known).
 * A server that publishes the document must name its token endpoint; when it lists its authentication methods,
 * grant types and signing algorithms, they must include what backend services use (backend-services.html#registering-a-client-communicating-public-keys):
 * `private_key_jwt`, `client_credentials` and the chosen algorithm. Refusing here gives hospital IT one clear message
 * at start-up instead of a 401 at the first write.
 */
export async function discoverSmartConfiguration(
  fhirBase: string,
  alg: string,
  fetchFn: typeof fetch = fetch
): Promise<SmartConfiguration> {
  const url = `${fhirBase.replace(/\/+$/, '')}/.well-known/smart-configuration`;
  const res = await fetchFn(url, { headers: { accept: 'application/json' } });
  if (!res.ok) {
    throw notSupported(
      `SMART discovery: ${url} answered ${res.status}; the server does not publish a SMART configuration`
    );
  }
  let doc: unknown;
  try {
    doc = await res.json();
  } catch {
    throw invalidInput(`SMART discovery: ${url} is not JSON`);
  }
  const config = doc as Partial<SmartConfiguration> | null;
  if (!config || typeof config.token_endpoint !== 'string' || !/^https?:\/\//.test(config.token_endpoint)) {
    throw invalidInput(`SMART discovery: ${url} names no token_endpoint URL`);
  }
  requireListed(
    config.token_endpoint_auth_methods_supported,
    'private_key_jwt',
    'token_endpoint_auth_methods_supported'
  );
  requireListed(config.grant_types_supported, 'client_credentials', 'grant_types_supported');
  requireListed(
    config.token_endpoint_auth_signing_alg_values_supported,
    alg,
    'token_endpoint_auth_signing_alg_values_supported'
  );
  return config as SmartConfiguration;
}

/** An absent list says nothing (the fields are optional); a list that leaves the value out is a refusal. */
function requireListed(list: readonly string[] | undefined, value: string, field: string): void {
  if (Array.isArray(list) && !list.includes(value)) {
    throw notSupported(`SMART discovery: the server's ${field} does not include ${value}`);
  }
}
