import { invalidInput } from '../outcomes';
import { BackendServicesAuth } from './backendServicesAuth';
import { readJwksFile, signingKeyFromJwks, type AssertionAlg } from './jwksKeys';

/**
 * The engine's backend-services identity from the environment (secrets never sit in a configuration file):
 * `SMART_CLIENT_ID`, `SMART_JWKS_FILE` (the client's private JWKS), `SMART_ALG` (RS384, default, or ES384),
 * `SMART_KID` (optional: which key), `SMART_SCOPES` (space-separated system/ scopes, default `system/*.rs
 * system/*.cud`), `SMART_TOKEN_URL` (optional: skip discovery). Undefined when `SMART_CLIENT_ID` is not set: an open
 * server needs no token.
 */
export function backendServicesFromEnv(
  fhirBase: string,
  env: NodeJS.ProcessEnv = process.env
): BackendServicesAuth | undefined {
  const clientId = env.SMART_CLIENT_ID;
  if (!clientId) {
    return undefined;
  }
  if (!env.SMART_JWKS_FILE) {
    throw invalidInput('SMART_CLIENT_ID is set but SMART_JWKS_FILE (the private JWKS) is not');
  }
  const alg = (env.SMART_ALG ?? 'RS384') as AssertionAlg;
  if (alg !== 'RS384' && alg !== 'ES384') {
    throw invalidInput('SMART_ALG must be RS384 or ES384');
  }
  return new BackendServicesAuth({
    fhirBase,
    clientId,
    key: signingKeyFromJwks(readJwksFile(env.SMART_JWKS_FILE), alg, env.SMART_KID || undefined),
    scopes: (env.SMART_SCOPES ?? 'system/*.rs system/*.cud').split(/\s+/).filter(Boolean),
    ...(env.SMART_TOKEN_URL ? { tokenUrl: env.SMART_TOKEN_URL } : {}),
  });
}
