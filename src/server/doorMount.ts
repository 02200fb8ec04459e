import type { RequestHandler } from 'express';
import { internalFault } from '../fhir/outcomes';

/**
 * A non-FHIR door on the embedded server's HTTP port: SMART authorization (`/auth`), CDS Hooks (`/cds-services`),
 * the app's static files (`/app`). Each is an express router mounted at its own path, outside the FHIR base,
 * before the FHIR endpoint and behind the same request log and error handler. A door adds itself by passing one of
 * these to `startServer({ mounts })`; nothing in the FHIR layer changes.
 */
export interface DoorMount {
  /** Mount path, e.g. `/cds-services`; must not be inside the FHIR base `/fhir/R4` nor be `/healthz`, `/readyz` or `/metrics`. */
  readonly path: string;
  readonly handler: RequestHandler;
  /** One line for the start-up log, e.g. 'CDS Hooks discovery'. */
  readonly description?: string;
}

/** The probes and the metrics, served by the server itself. */
const OPERATIONS_PATHS: readonly string[] = ['/healthz', '/readyz', '/metrics'];

/** Refuses a mount path that would shadow the FHIR base, the probes or the metrics. */
export function assertMountable(mount: DoorMount, fhirBasePath: string): void {
  if (
    !mount.path.startsWith('/') ||
    mount.path === fhirBasePath ||
    mount.path.startsWith(`${fhirBasePath}/`) ||
    OPERATIONS_PATHS.includes(mount.path) ||
    mount.path === '/'
  ) {
    throw internalFault(`A door cannot be mounted at ${mount.path}`);
  }
}
