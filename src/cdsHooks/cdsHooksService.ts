import { OperationOutcomeError } from '@medplum/core';
import type { Bundle, CarePlan, Patient, Resource, RiskAssessment, Task } from '@medplum/fhirtypes';
import express from 'express';
import type { NextFunction, Request, Response, Router } from 'express';
import { randomUUID } from 'node:crypto';
import { inPatientCompartment } from '../auth/patientCompartment';
import type { FhirClient } from '../fhir/fhirClient';
import { httpStatusOf } from '../fhir/outcomes';
import { cdsClientVerifier, type TrustedCdsClient } from './cdsClientAuth';
import type { FeedbackRecorder } from './cdsFeedback';
import { patientViewCards } from './patientViewCards';

export const CDS_SERVICES_PATH = '/cds-services';
export const PATIENT_VIEW_SERVICE_ID = 'recovery-twin-patient-view';

/**
 * Prefetch templates (CDS Hooks 2.0 "Prefetch Template"): the patient, the twin's findings and the review Tasks.
 * RiskAssessment has no `status` search parameter in R4, so open findings are picked out of the patient's
 * RiskAssessments here; Task has `status` and `patient`.
 */
export const PREFETCH = Object.freeze({
  patient: 'Patient/{{context.patientId}}',
  findings: 'RiskAssessment?patient={{context.patientId}}',
  reviews: 'Task?patient={{context.patientId}}&status=requested,received,accepted,in-progress',
});

export interface CdsHooksOptions {
  /** e.g. http://127.0.0.1:8080 (service URLs are `<origin>/cds-services/<id>`, the JWT's `aud`). */
  readonly origin: string;
  /** The FHIR server whose data the service can read itself (the world's client). */
  readonly fhirBaseUrl: string;
  /** The SMART app's launch URL, linked from the cards. */
  readonly appLaunchUrl: string;
  readonly trustedClients: readonly TrustedCdsClient[];
  readonly client: FhirClient;
  readonly now: () => Date;
  readonly recordFeedback: FeedbackRecorder;
  readonly newId?: () => string;
}

interface HookRequest {
  readonly hook?: unknown;
  readonly hookInstance?: unknown;
  readonly fhirServer?: unknown;
  readonly context?: { readonly patientId?: unknown; readonly userId?: unknown };
  readonly prefetch?: Record<string, unknown>;
}

class CdsError extends Error {
  constructor(
    readonly status: number,
    text: string
  ) {
    super(text);
  }
}

const FHIR_ID = /^[A-Za-z0-9.-]{1,64}$/;

function bundleResources<T extends Resource>(value: unknown, type: T['resourceType']): T[] {
  const bundle = value as Bundle | undefined;
  if (bundle?.resourceType !== 'Bundle') {
    throw new CdsError(400, `prefetch must be a Bundle of ${type}`);
  }
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is T => r?.resourceType === type);
}

/**
 * CDS Hooks 2.0 (https://cds-hooks.hl7.org/2.0/): discovery at `GET /cds-services`, the `patient-view` service, and
 * its feedback endpoint. Service calls are authenticated with the EHR's signed JWT (cdsClientAuth.ts). CORS as the
 * specification asks: any origin (no cookies are involved: the JWT is the credential), Authorization allowed.
 */
export function cdsHooksService(options: CdsHooksOptions): Router {
  const router = express.Router();
  const verify = cdsClientVerifier(options.trustedClients, options.now);
  const newId = options.newId ?? ((): string => randomUUID());
  const serviceUrl = `${options.origin}${CDS_SERVICES_PATH}/${PATIENT_VIEW_SERVICE_ID}`;
  /** Cards issued recently, so feedback can say what a card was about; bounded. */
  const issued = new Map<string, string>();
  const remember = (uuid: string, about: string): void => {
    if (issued.size >= 10_000) {
      const oldest = issued.keys().next().value;
      if (oldest !== undefined) {
        issued.delete(oldest);
      }
    }
    issued.set(uuid, about);
  };

  router.use(CDS_SERVICES_PATH, (req: Request, res: Response, next: NextFunction): void => {
    res.set('Access-Control-Allow-Origin', '*');
    res.set('Cache-Control', 'no-store');
    if (req.method === 'OPTIONS') {
      res.set('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      res.set('Access-Control-Allow-Headers', 'Authorization, Content-Type');
      res.set('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  });

  router.get(CDS_SERVICES_PATH, (_req: Request, res: Response): void => {
    res.json({
      services: [
        {
          hook: 'patient-view',
          id: PATIENT_VIEW_SERVICE_ID,
          title: 'Recovery twin',
          description:
            "Open early-warning findings and care-plan proposals awaiting review, from the patient's recovery twin",
          prefetch: PREFETCH,
        },
      ],
    });
  });

  const json = express.json({ limit: '4mb', type: ['application/json', 'application/fhir+json'] });

  const fail = (res: Response, err: unknown): void => {
    if (err instanceof CdsError) {
      res.status(err.status).json({ error: err.message });
      return;
    }
    if (err instanceof OperationOutcomeError) {
      const status = httpStatusOf(err.outcome);
      if (status === 401) {
        res.set('WWW-Authenticate', 'Bearer');
      }
      res.status(status).json({ error: err.outcome.issue?.[0]?.details?.text ?? 'refused' });
      return;
    }
    res.status(500).json({ error: 'Internal error' });
  };

  router.post(`${CDS_SERVICES_PATH}/${PATIENT_VIEW_SERVICE_ID}`, json, (req: Request, res: Response): void => {
    (async (): Promise<void> => {
      await verify(req, serviceUrl);
      const body = (req.body ?? {}) as HookRequest;
      if (body.hook !== 'patient-view' || typeof body.hookInstance !== 'string') {
        throw new CdsError(400, 'Expected a patient-view hook call with a hookInstance');
      }
      const patientId = body.context?.patientId;
      if (typeof patientId !== 'string' || !FHIR_ID.test(patientId)) {
        throw new CdsError(400, 'context.patientId is required');
      }
      const userId = typeof body.context?.userId === 'string' ? body.context.userId : undefined;
      // The service reads the data itself only from the server it is wired to; any other server's data must come
      // as prefetch (this service holds no credentials for other servers).
      const fhirServer = typeof body.fhirServer === 'string' ? body.fhirServer.replace(/\/$/, '') : undefined;
      const canFetch = fhirServer === undefined || fhirServer === options.fhirBaseUrl;
      const prefetch = body.prefetch ?? {};
      const obtain = async <T>(
        key: keyof typeof PREFETCH,
        fromPrefetch: (v: unknown) => T,
        fetchIt: () => Promise<T>
      ): Promise<T> => {
        const value = prefetch[key];
        if (value !== undefined && value !== null) {
          return fromPrefetch(value);
        }
        if (!canFetch) {
          // CDS Hooks 2.0 "Prefetch": a service that cannot obtain required data SHALL answer 412.
          throw new CdsError(412, `Required prefetch '${key}' is missing and this service cannot fetch it`);
        }
        return fetchIt();
      };
      const patient = await obtain<Patient>(
        'patient',
        (v) => {
          const p = v as Patient;
          if (p.resourceType !== 'Patient' || p.id !== patientId) {
            throw new CdsError(400, 'prefetch.patient is not the patient in context');
          }
          return p;
        },
        () => options.client.read<Patient>('Patient', patientId)
      );
      const findings = await obtain<RiskAssessment[]>(
        'findings',
        (v) => bundleResources<RiskAssessment>(v, 'RiskAssessment'),
        () => options.client.searchAll<RiskAssessment>('RiskAssessment', { patient: patientId })
      );
      const reviews = await obtain<Task[]>(
        'reviews',
        (v) => bundleResources<Task>(v, 'Task'),
        () =>
          options.client.searchAll<Task>('Task', {
            patient: patientId,
            status: 'requested,received,accepted,in-progress',
          })
      );
      const carePlans = new Map<string, CarePlan>();
      if (canFetch) {
        for (const task of reviews) {
          const ref = task.focus?.reference ?? '';
          if (ref.startsWith('CarePlan/')) {
            const plan = await options.client
              .read<CarePlan>('CarePlan', ref.slice('CarePlan/'.length))
              .catch(() => undefined);
            if (plan && inPatientCompartment(plan, patient.id ?? '')) {
              carePlans.set(plan.id ?? '', plan);
            }
          }
        }
      }
      const cards = patientViewCards({
        findings: findings.filter((f) => inPatientCompartment(f, patientId)),
        reviews: reviews.filter((t) => inPatientCompartment(t, patientId)),
        carePlans,
        appUrl: options.appLaunchUrl,
        ...(userId ? { userId } : {}),
        newId,
      });
      for (const card of cards) {
        remember(card.uuid, card.indicator === 'warning' ? 'finding' : 'proposal');
      }
      res.json({ cards });
    })().catch((err: unknown) => fail(res, err));
  });

  router.post(`${CDS_SERVICES_PATH}/${PATIENT_VIEW_SERVICE_ID}/feedback`, json, (req: Request, res: Response): void => {
    (async (): Promise<void> => {
      // The feedback endpoint is part of the service: the same JWT rules, `aud` the feedback URL or the service URL.
      await verify(req, `${serviceUrl}/feedback`).catch(async (err: unknown) => {
        if (err instanceof OperationOutcomeError && /audience/.test(JSON.stringify(err.outcome))) {
          return verify(req, serviceUrl);
        }
        throw err;
      });
      const entries = (req.body as { feedback?: unknown })?.feedback;
      if (!Array.isArray(entries) || entries.length === 0) {
        throw new CdsError(400, 'feedback must be a non-empty array');
      }
      const receivedAt = options.now().toISOString();
      const records = entries.map((e: Record<string, unknown>) => {
        const card = typeof e.card === 'string' ? e.card : '';
        const about = issued.get(card);
        if (!about) {
          throw new CdsError(404, 'Unknown card');
        }
        if (e.outcome !== 'accepted' && e.outcome !== 'overridden') {
          throw new CdsError(400, 'outcome must be accepted or overridden');
        }
        const accepted = Array.isArray(e.acceptedSuggestions)
          ? e.acceptedSuggestions.map((s: { id?: unknown }) => (typeof s?.id === 'string' ? s.id : ''))
          : [];
        const reason = (e.overrideReason as { reason?: { code?: unknown } } | undefined)?.reason?.code;
        return {
          service: PATIENT_VIEW_SERVICE_ID,
          card,
          about,
          outcome: e.outcome,
          acceptedSuggestions: accepted,
          ...(typeof reason === 'string' ? { overrideReason: reason } : {}),
          outcomeTimestamp: typeof e.outcomeTimestamp === 'string' ? e.outcomeTimestamp : receivedAt,
          receivedAt,
        } as const;
      });
      for (const record of records) {
        options.recordFeedback(record);
      }
      res.status(200).json({});
    })().catch((err: unknown) => fail(res, err));
  });

  return router;
}
