import type { Resource } from '@medplum/fhirtypes';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { accessGrantOf, classifyRequest } from './fhirAccessGuard';
import { compartmentPatients } from './patientCompartment';
import type { AuditedInteraction, ReadAuditTrail } from './readAuditTrail';

/** The patients whose records a FHIR JSON response carries (a resource, or the entries of a Bundle). */
function patientsIn(body: string): Set<string> {
  const out = new Set<string>();
  let parsed: Resource;
  try {
    parsed = JSON.parse(body) as Resource;
  } catch {
    return out;
  }
  const resources =
    parsed.resourceType === 'Bundle' ? (parsed.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])) : [parsed];
  for (const r of resources) {
    for (const id of compartmentPatients(r)) {
      out.add(id);
    }
  }
  return out;
}

/**
 * The door's audit of reads (behind the FHIR access guard, which verified the token): every answered read, search or
 * operation on a patient's record by an authenticated caller is noted in the read audit trail, once per patient the
 * answer carried (a search across patients is a read of each). What was read is taken from the answer itself, after
 * the guard's confinement, so a refused request (4xx) or a search that matched nothing records no read.
 *
 * Reads of AuditEvents are not themselves audited: the trail would otherwise grow each time a patient looks at it.
 * Nothing of the request (path, query, body) goes to a log.
 */
export function readAuditGate(trail: ReadAuditTrail, bulkPaths: readonly string[] = []): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const grant = accessGrantOf(res);
    const interaction = classifyRequest(req.method, req.path, bulkPaths);
    let kind: AuditedInteraction | undefined;
    let fromPath: string | undefined;
    if (interaction?.kind === 'instance' && interaction.permission === 'r' && !interaction.history) {
      kind = 'read';
    } else if (interaction?.kind === 'type' && interaction.permission === 's') {
      kind = 'search-type';
    } else if (interaction?.kind === 'operation' && interaction.type === 'Patient' && interaction.id) {
      // Patient/{id}/$twin-refresh and the other twin operations read that patient's record.
      kind = 'operation';
      fromPath = interaction.id;
    }
    const type = interaction && 'type' in interaction ? interaction.type : undefined;
    if (!grant || !kind || type === 'AuditEvent') {
      next();
      return;
    }
    let seen = new Set<string>();
    if (!fromPath) {
      const send = res.send.bind(res);
      res.send = ((body?: unknown): Response => {
        if (
          typeof body === 'string' &&
          res.statusCode < 400 &&
          String(res.get('Content-Type') ?? '').includes('json')
        ) {
          seen = patientsIn(body);
        }
        return send(body);
      }) as Response['send'];
    }
    res.once('finish', () => {
      if (res.statusCode >= 400) {
        return;
      }
      const confinedTo = (res.locals as { confinedTo?: string }).confinedTo;
      const patients = fromPath ? [fromPath] : [...seen];
      for (const patient of patients) {
        // A confined request reads only its patient; anything else in the raw answer was filtered out on the way.
        if (confinedTo === undefined || confinedTo === patient) {
          trail.record({
            ...(grant.fhirUser ? { fhirUser: grant.fhirUser } : {}),
            clientId: grant.clientId,
            patient,
            interaction: kind,
          });
        }
      }
    });
    next();
  };
}
