import { allOk, created, getStatus, isOk, OperationOutcomeError } from '@medplum/core';
import type { FhirRouter } from '@medplum/fhir-router';

/**
 * `PUT [type]/[id]` on an id the server does not hold creates the resource (update as create, FHIR R4
 * http.html#upsert) and answers 201 Created, not 200 (http.html#update). @medplum/fhir-router's update handler always
 * says 200; this wraps it so that the existence check and the write run in one repository transaction, so two
 * concurrent PUTs on a new id cannot both be told 201.
 */
export function answerUpdateAsCreateWith201(router: FhirRouter): void {
  const route = router.router.routes.find(
    (r) => r.method === 'PUT' && r.path.length === 2 && r.path[0].param && r.path[1].param
  );
  if (!route) {
    return;
  }
  const update = route.handler;
  route.handler = (req, repo, r, options) =>
    repo.withTransaction(
      async (tx) => {
        const { resourceType, id } = req.params;
        const existed = await tx.readResource(resourceType, id).then(
          () => true,
          (err: unknown) => {
            if (err instanceof OperationOutcomeError && [404, 410].includes(getStatus(err.outcome))) {
              return false;
            }
            throw err;
          }
        );
        const [outcome, resource, responseOptions] = await update(req, tx, r, options);
        if (!existed && isOk(outcome) && outcome.id === allOk.id && resource) {
          return responseOptions ? [created, resource, responseOptions] : [created, resource];
        }
        return responseOptions && resource
          ? [outcome, resource, responseOptions]
          : resource
            ? [outcome, resource]
            : [outcome];
      },
      { resourceTypes: [] }
    );
}
