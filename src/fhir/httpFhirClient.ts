import { badRequest, normalizeOperationOutcome, OperationOutcomeError } from '@medplum/core';
import type { Bundle, OperationOutcome, Resource, ResourceType } from '@medplum/fhirtypes';
import type { FhirClient } from './fhirClient';
import { FHIR_ID, readNotFound } from './readById';

export interface HttpFhirClientOptions {
  /** FHIR base URL, e.g. https://fhir.example.org/R4 */
  readonly baseUrl: string;
  readonly fetch?: typeof fetch;
  /** Adds an Authorization header (SMART Backend Services lands here); none for an open server. */
  readonly authorization?: () => Promise<string | undefined>;
  /**
   * Called once when the server answers 401 to an authorized request, before it is retried once: drop a cached token
   * that the server no longer accepts (SMART backend services: BackendServicesAuth.invalidate).
   */
  readonly onUnauthorized?: () => void;
  readonly pageSize?: number;
}

/** A FhirClient for any FHIR R4 server over REST (FHIR R4 http.html), JSON only. */
export class HttpFhirClient implements FhirClient {
  private readonly fetchFn: typeof fetch;
  private readonly base: string;

  constructor(private readonly options: HttpFhirClientOptions) {
    this.fetchFn = options.fetch ?? fetch;
    this.base = options.baseUrl.replace(/\/+$/, '');
  }

  async read<T extends Resource>(resourceType: T['resourceType'] & ResourceType, id: string): Promise<T> {
    if (!FHIR_ID.test(id)) {
      throw readNotFound(resourceType, id);
    }
    // 404 not found and 410 deleted (FHIR R4 http.html#read) both mean "no such resource" to the engine.
    return (await this.request('GET', `${this.base}/${resourceType}/${id}`, undefined, () =>
      readNotFound(resourceType, id)
    )) as T;
  }

  async searchAll<T extends Resource>(
    resourceType: T['resourceType'] & ResourceType,
    query: Record<string, string>
  ): Promise<T[]> {
    const params = new URLSearchParams({ ...query, _count: String(this.options.pageSize ?? 1000) });
    let url: string | undefined = `${this.base}/${resourceType}?${params.toString()}`;
    const out: T[] = [];
    const seen = new Set<string>();
    while (url) {
      if (seen.has(url)) {
        throw new OperationOutcomeError(badRequest(`Server returned the same next link twice for ${resourceType}`));
      }
      seen.add(url);
      const bundle = (await this.request('GET', url)) as Bundle<T>;
      for (const entry of bundle.entry ?? []) {
        if (entry.resource && entry.search?.mode !== 'include' && entry.resource.resourceType === resourceType) {
          out.push(entry.resource);
        }
      }
      url = bundle.link?.find((l) => l.relation === 'next')?.url;
    }
    return out;
  }

  async transaction(bundle: Bundle): Promise<Bundle> {
    return (await this.request('POST', this.base, bundle)) as Bundle;
  }

  private async request(
    method: 'GET' | 'POST',
    url: string,
    body?: unknown,
    notFound?: () => Error,
    retried = false
  ): Promise<Resource> {
    const headers: Record<string, string> = { accept: 'application/fhir+json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/fhir+json';
    }
    const auth = await this.options.authorization?.();
    if (auth) {
      headers.authorization = auth;
    }
    const res = await this.fetchFn(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401 && auth && this.options.onUnauthorized && !retried) {
      await res.body?.cancel();
      this.options.onUnauthorized();
      return this.request(method, url, body, notFound, true);
    }
    const text = await res.text();
    if (notFound && (res.status === 404 || res.status === 410)) {
      throw notFound();
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new OperationOutcomeError(
        badRequest(`${method} ${stripQuery(url)} answered ${res.status} with a non-JSON body`)
      );
    }
    if (!res.ok) {
      const outcome =
        (parsed as Resource | undefined)?.resourceType === 'OperationOutcome'
          ? (parsed as OperationOutcome)
          : badRequest(`${method} ${stripQuery(url)} answered ${res.status}`);
      throw new OperationOutcomeError(normalizeOperationOutcome(outcome));
    }
    return parsed as Resource;
  }
}

/** Query strings carry patient ids and dates: keep them out of error messages that may be logged. */
function stripQuery(url: string): string {
  return url.split('?')[0];
}
