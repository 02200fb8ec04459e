import type { Resource, ResourceType } from '@medplum/fhirtypes';

/** The business identifier every engine write is keyed on (deterministic, so a rerun addresses the same resource). */
export interface PlanIdentifier {
  readonly system: string;
  readonly value: string;
}

/**
 * Make the server hold `resource` under `identifier` (conditional update, FHIR R4 http.html#cond-update). `current` is
 * what the stage read from the server for that identifier: when its content is the same, nothing is sent.
 */
export interface UpsertWrite {
  readonly kind: 'upsert';
  readonly resource: Resource;
  readonly identifier: PlanIdentifier;
  readonly current?: Resource;
  /** A `urn:uuid:` other writes of the same plan use to reference this one (FHIR R4 http.html#trules). */
  readonly fullUrl?: string;
}

/**
 * Create `resource` once (conditional create, If-None-Exist, FHIR R4 http.html#ccreate): never rewritten afterwards,
 * so what people have done with it since (a Task accepted or completed) is never reset by a rerun.
 */
export interface CreateOnceWrite {
  readonly kind: 'create-once';
  readonly resource: Resource;
  readonly identifier: PlanIdentifier;
  readonly fullUrl?: string;
}

/** Create `resource` unconditionally: only for records of an event that happens once (e.g. a decision's Provenance). */
export interface AppendWrite {
  readonly kind: 'append';
  readonly resource: Resource;
  readonly fullUrl?: string;
}

/**
 * Update a resource the stage read, at the version it read (FHIR R4 http.html#concurrency: If-Match): when someone
 * changed it in between, the whole transaction fails rather than overwrite their change. For a resource the engine does
 * not own by identifier, e.g. a review Task a clinician may be working on.
 */
export interface VersionedUpdateWrite {
  readonly kind: 'versioned-update';
  readonly resource: Resource & { id: string };
  /** The versionId the stage read; absent: the server's current version is overwritten. */
  readonly versionId?: string;
}

/** Remove the engine's own resource under `identifier` (conditional delete, FHIR R4 http.html#cdelete). */
export interface RemoveWrite {
  readonly kind: 'remove';
  readonly resourceType: ResourceType;
  readonly identifier: PlanIdentifier;
}

export type PlannedWrite = UpsertWrite | CreateOnceWrite | AppendWrite | VersionedUpdateWrite | RemoveWrite;

/**
 * What a stage wants written, as plain data: stages compute plans (pure, testable without a server) and the deliver
 * stage's writeBack sends each plan as one transaction. A withdrawal (status entered-in-error or cancelled) is an
 * upsert of the withdrawn resource: the record stays for audit, never silently deleted.
 */
export interface WritePlan {
  readonly writes: readonly PlannedWrite[];
}

export function upsert(
  resource: Resource,
  identifier: PlanIdentifier,
  current?: Resource,
  fullUrl?: string
): UpsertWrite {
  return { kind: 'upsert', resource, identifier, ...(current ? { current } : {}), ...(fullUrl ? { fullUrl } : {}) };
}

export function createOnce(resource: Resource, identifier: PlanIdentifier, fullUrl?: string): CreateOnceWrite {
  return { kind: 'create-once', resource, identifier, ...(fullUrl ? { fullUrl } : {}) };
}

export function append(resource: Resource, fullUrl?: string): AppendWrite {
  return { kind: 'append', resource, ...(fullUrl ? { fullUrl } : {}) };
}

export function remove(resourceType: ResourceType, identifier: PlanIdentifier): RemoveWrite {
  return { kind: 'remove', resourceType, identifier };
}

export function versionedUpdate(resource: Resource & { id: string }, versionId?: string): VersionedUpdateWrite {
  return { kind: 'versioned-update', resource, ...(versionId ? { versionId } : {}) };
}
