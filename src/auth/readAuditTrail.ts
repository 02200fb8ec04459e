import type { AuditEvent, Bundle, Patient, Practitioner, Resource } from '@medplum/fhirtypes';
import { createHash } from 'node:crypto';
import { TWIN_CANONICAL_BASE } from '../fhir/codes/twinCodes';
import type { FhirClient } from '../fhir/fhirClient';

/** The FHIR RESTful interactions the trail records (R4 CodeSystem restful-interaction; code = display). */
export type AuditedInteraction = 'read' | 'search-type' | 'operation';

/** One read of one patient's record by one caller, as the door saw it. */
export interface AuditedRead {
  /** The token's fhirUser (`Practitioner/1`, `Patient/7`), or undefined for a backend service. */
  readonly fhirUser?: string;
  /** The OAuth client that made the request (SMART `client_id`). */
  readonly clientId: string;
  readonly patient: string;
  readonly interaction: AuditedInteraction;
}

export interface ReadAuditTrailWorld {
  readonly client: FhirClient;
  readonly now: () => Date;
  /** One line per failed flush; never health data (no patient, no user, no query). */
  readonly log?: (line: string) => void;
}

export interface ReadAuditTrailOptions {
  /** How often pending reads are written; 0 = only on `flush()` and `close()` (tests). Default 5 s. */
  readonly flushEveryMs?: number;
  /** Pending keys that trigger an early flush. Default 500. */
  readonly flushAtKeys?: number;
  /** Pending keys kept at most while the store refuses writes; reads of further keys are counted as dropped. */
  readonly maxPendingKeys?: number;
}

/** Extension on the AuditEvent: how many interactions of this kind the agent made on that patient that day. */
export const AUDIT_COUNT_EXTENSION = `${TWIN_CANONICAL_BASE}/StructureDefinition/audit-interaction-count`;

/** FHIR R4 AuditEvent.type for a RESTful interaction (CodeSystem audit-event-type, as the R4 examples use it). */
const REST_TYPE = {
  system: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
  code: 'rest',
  display: 'RESTful Operation',
} as const;
const RESTFUL_INTERACTION = 'http://hl7.org/fhir/restful-interaction';
/** R4 AuditEvent.agent.type of a person (extra-security-role-type, as audit-event-example-vread uses it). */
const HUMAN_USER = {
  system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type',
  code: 'humanuser',
  display: 'human user',
} as const;
/** R4 AuditEvent.source.type: security-source-type 4. */
const APPLICATION_SERVER = {
  system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
  code: '4',
  display: 'Application Server',
} as const;
/** R4 AuditEvent.entity.type and role of the patient whose record was read (audit-entity-type 1, object-role 1). */
const ENTITY_PERSON = {
  system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
  code: '1',
  display: 'Person',
} as const;
const ROLE_PATIENT = {
  system: 'http://terminology.hl7.org/CodeSystem/object-role',
  code: '1',
  display: 'Patient',
} as const;
/** R4 AuditEvent.outcome 0 (Success): only answered requests are recorded. */
const SUCCESS = '0';

interface Pending {
  readonly read: AuditedRead;
  readonly day: string;
  count: number;
  first: string;
  last: string;
}

function keyOf(read: AuditedRead, day: string): string {
  return [read.fhirUser ?? '', read.clientId, read.patient, day, read.interaction].join('|');
}

/** One AuditEvent per key: the same key always names the same resource, so a replayed flush creates nothing new. */
export function auditEventId(key: string): string {
  return `ra-${createHash('sha256').update(key).digest('hex').slice(0, 48)}`;
}

function nameOf(resource: Patient | Practitioner): string | undefined {
  const name = resource.name?.[0];
  const text = name?.text ?? [...(name?.given ?? []), name?.family ?? ''].join(' ').trim();
  return text || undefined;
}

/** The count already stored on the day's AuditEvent (0 when there is none). */
function storedCount(event: AuditEvent | undefined): number {
  return event?.extension?.find((e) => e.url === AUDIT_COUNT_EXTENSION)?.valueInteger ?? 0;
}

/**
 * Who read which patient's record: the door tells it every answered read (`record`), and it writes one AuditEvent per
 * (user, app, patient, UTC day, interaction) with the number of such interactions in an extension and the first and
 * last of them in `period`. Reads are gathered in memory and written together, in one transaction, at most once per
 * `flushEveryMs`, and on `close()` (shutdown). The resource id is derived from the key, so the day's record is
 * updated in place: the trail grows with users x patients x days, not with requests, and a retried flush adds to the
 * stored count exactly what was pending.
 *
 * FHIR R4 AuditEvent: type `rest`, subtype the restful-interaction, action R (read, search) or E (operation), agent
 * the token's fhirUser (requestor) and the app, entity the Patient whose record was read.
 */
export class ReadAuditTrail {
  private readonly pending = new Map<string, Pending>();
  private readonly names = new Map<string, string | undefined>();
  private readonly flushEveryMs: number;
  private readonly flushAtKeys: number;
  private readonly maxPendingKeys: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** Reads not recorded because the pending map was full (the store refused writes for a long time). */
  dropped = 0;

  constructor(
    private readonly world: ReadAuditTrailWorld,
    options: ReadAuditTrailOptions = {}
  ) {
    this.flushEveryMs = options.flushEveryMs ?? 5000;
    this.flushAtKeys = options.flushAtKeys ?? 500;
    this.maxPendingKeys = options.maxPendingKeys ?? 10_000;
    if (this.flushEveryMs > 0) {
      this.timer = setInterval(() => void this.flush(), this.flushEveryMs);
      this.timer.unref();
    }
  }

  /** Notes one answered read; written at the next flush. */
  record(read: AuditedRead): void {
    const at = this.world.now().toISOString();
    const day = at.slice(0, 10);
    const key = keyOf(read, day);
    const entry = this.pending.get(key);
    if (entry) {
      entry.count += 1;
      entry.last = at;
      return;
    }
    if (this.pending.size >= this.maxPendingKeys) {
      this.dropped += 1;
      if (this.dropped % 1000 === 1) {
        this.world.log?.(`audit trail: ${this.dropped} read(s) not recorded: the store has refused writes too long`);
      }
      return;
    }
    this.pending.set(key, { read, day, count: 1, first: at, last: at });
    if (this.pending.size >= this.flushAtKeys) {
      void this.flush();
    }
  }

  /** Number of (user, patient, day, interaction) records waiting to be written. */
  get pendingKeys(): number {
    return this.pending.size;
  }

  /** Writes what is pending (one transaction); flushes never overlap. Failures keep the reads for the next flush. */
  flush(): Promise<void> {
    this.chain = this.chain.then(() => this.writePending());
    return this.chain;
  }

  /** Stops the timer and writes what is left (server shutdown). Safe to call twice. */
  async close(): Promise<void> {
    if (this.timer) {
      clearInterval(this.timer);
    }
    if (!this.closed) {
      this.closed = true;
      await this.flush();
    }
  }

  private async writePending(): Promise<void> {
    if (this.pending.size === 0) {
      return;
    }
    const batch = [...this.pending.entries()];
    this.pending.clear();
    try {
      const recorded = this.world.now().toISOString();
      const entries: NonNullable<Bundle['entry']> = [];
      for (const [key, p] of batch) {
        const id = auditEventId(key);
        const stored = await this.world.client.read<AuditEvent>('AuditEvent', id).catch(() => undefined);
        entries.push({
          resource: await this.build(id, p, stored, recorded),
          request: { method: 'PUT', url: `AuditEvent/${id}` },
        });
      }
      await this.world.client.transaction({ resourceType: 'Bundle', type: 'transaction', entry: entries });
    } catch (err) {
      // Put the reads back (merged with any recorded meanwhile): the next flush writes them.
      for (const [key, p] of batch) {
        const now = this.pending.get(key);
        if (now) {
          now.count += p.count;
          now.first = p.first < now.first ? p.first : now.first;
        } else {
          this.pending.set(key, p);
        }
      }
      const code = err instanceof Error ? err.name : 'error';
      this.world.log?.(`audit trail: flush of ${batch.length} record(s) failed (${code}); kept for the next flush`);
    }
  }

  private async displayOf(reference: string): Promise<string | undefined> {
    if (!this.names.has(reference)) {
      const [type, id] = reference.split('/');
      let name: string | undefined;
      if ((type === 'Practitioner' || type === 'Patient') && id) {
        name = await this.world.client
          .read<Practitioner | Patient>(type, id)
          .then(nameOf)
          .catch(() => undefined);
      }
      if (this.names.size >= 1000) {
        this.names.clear();
      }
      this.names.set(reference, name);
    }
    return this.names.get(reference);
  }

  private async build(id: string, p: Pending, stored: AuditEvent | undefined, recorded: string): Promise<AuditEvent> {
    const { read } = p;
    const userDisplay = read.fhirUser ? await this.displayOf(read.fhirUser) : undefined;
    const patientDisplay = await this.displayOf(`Patient/${read.patient}`);
    const start = stored?.period?.start && stored.period.start < p.first ? stored.period.start : p.first;
    const agents: AuditEvent['agent'] = [
      read.fhirUser
        ? {
            type: { coding: [HUMAN_USER] },
            who: { reference: read.fhirUser, ...(userDisplay ? { display: userDisplay } : {}) },
            ...(userDisplay ? { name: userDisplay } : {}),
            requestor: true,
          }
        : { who: { display: read.clientId }, name: read.clientId, requestor: true },
    ];
    if (read.fhirUser) {
      // The app the user read through (SMART client_id).
      agents.push({ who: { display: read.clientId }, name: read.clientId, requestor: false });
    }
    const resource: AuditEvent = {
      resourceType: 'AuditEvent',
      id,
      extension: [{ url: AUDIT_COUNT_EXTENSION, valueInteger: storedCount(stored) + p.count }],
      type: REST_TYPE,
      subtype: [{ system: RESTFUL_INTERACTION, code: read.interaction, display: read.interaction }],
      action: read.interaction === 'operation' ? 'E' : 'R',
      period: { start, end: p.last },
      recorded,
      outcome: SUCCESS,
      agent: agents,
      source: { observer: { display: 'recovery-twin FHIR server' }, type: [APPLICATION_SERVER] },
      entity: [
        {
          what: { reference: `Patient/${read.patient}`, ...(patientDisplay ? { display: patientDisplay } : {}) },
          type: ENTITY_PERSON,
          role: ROLE_PATIENT,
        },
      ],
    };
    return resource satisfies Resource;
  }
}
