import { OperationOutcomeError, parseSearchRequest } from '@medplum/core';
import { httpStatusOf } from './outcomes';
import type { FhirRepository, FhirRouter } from '@medplum/fhir-router';
import type { Bundle, Resource, ResourceType } from '@medplum/fhirtypes';
import type { FhirClient } from './fhirClient';
import { FHIR_ID, readNotFound } from './readById';

/** A FhirClient over the embedded store, in-process: requests go through the same router as HTTP requests do. */
export class LocalFhirClient implements FhirClient {
  constructor(
    private readonly repo: FhirRepository,
    private readonly router: FhirRouter,
    private readonly pageSize = 1000
  ) {}

  async read<T extends Resource>(resourceType: T['resourceType'] & ResourceType, id: string): Promise<T> {
    if (!FHIR_ID.test(id)) {
      throw readNotFound(resourceType, id);
    }
    try {
      return await this.repo.readResource<T>(resourceType, id);
    } catch (err) {
      // The store raises not-found and gone (deleted) as OperationOutcomeErrors: both are "no such resource" here.
      if (err instanceof OperationOutcomeError && [404, 410].includes(httpStatusOf(err.outcome))) {
        throw readNotFound(resourceType, id);
      }
      throw err;
    }
  }

  async searchAll<T extends Resource>(
    resourceType: T['resourceType'] & ResourceType,
    query: Record<string, string>
  ): Promise<T[]> {
    const out: T[] = [];
    for (let offset = 0; ; offset += this.pageSize) {
      const request = parseSearchRequest<T>(resourceType, {
        ...query,
        _count: String(this.pageSize),
        _offset: String(offset),
      });
      const bundle = await this.repo.search<T>(request);
      const page = (bundle.entry ?? [])
        .filter((e) => e.search?.mode !== 'include')
        .flatMap((e) => (e.resource ? [e.resource] : []));
      out.push(...page);
      if (!bundle.link?.some((l) => l.relation === 'next')) {
        return out;
      }
    }
  }

  async transaction(bundle: Bundle): Promise<Bundle> {
    const [outcome, result] = await this.router.handleRequest(
      { method: 'POST', url: '/', pathname: '', body: bundle, params: {}, query: {}, config: { transactions: true } },
      this.repo
    );
    if (httpStatusOf(outcome) >= 400 || result?.resourceType !== 'Bundle') {
      throw new OperationOutcomeError(outcome);
    }
    return result;
  }
}
