import type { AuditEvent, CarePlan, Observation, Patient, RiskAssessment, Task } from '@medplum/fhirtypes';
import type FHIR from 'fhirclient';
import { render } from 'preact';
import { TWIN_CONCEPT_SYSTEM } from './config';
import { scopeAllows } from './grantedScopes';
import {
  accessList,
  dataSources,
  noticed,
  plainNumber,
  proposalStatuses,
  recentDays,
  usualRanges,
  type Access,
  type DataSource,
  type DayState,
  type Noticed,
  type PlanStatus,
  type UsualRange,
} from './patientWords';

type Client = Awaited<ReturnType<typeof FHIR.oauth2.ready>>;

interface PatientPageView {
  readonly name: string;
  readonly ranges: UsualRange[];
  readonly days: DayState[];
  readonly noticed: Noticed[];
  readonly plans: PlanStatus[];
  readonly sources: DataSource[];
  readonly access: Access[];
}

async function all<T>(client: Client, url: string): Promise<T[]> {
  return (await client.request<T[]>(url, { pageLimit: 0, flat: true })) ?? [];
}

function nameOf(p: Patient): string {
  const n = p.name?.[0];
  return n?.text ?? ([...(n?.given ?? []), n?.family ?? ''].join(' ').trim() || 'you');
}

/**
 * Loads the patient's own twin with the patient's token: every search names the patient (the access guard confines a
 * patient-level token to its compartment), the same searches the clinician view makes (main.tsx loadPatient).
 */
async function loadOwnTwin(client: Client, granted: string): Promise<PatientPageView> {
  const id = client.patient.id ?? '';
  const can = (type: string): boolean => scopeAllows(granted, type, 's', ['patient']);
  const [patient, twin, measured, findings, tasks, plans, audit] = await Promise.all([
    client.request<Patient>(`Patient/${id}`),
    can('Observation')
      ? all<Observation>(
          client,
          `Observation?patient=${id}&category=${encodeURIComponent(`${TWIN_CONCEPT_SYSTEM}|`)}&_count=500`
        )
      : [],
    // Only what says where a measurement came from (FHIR R4 search.html#elements); subject keeps it in the compartment.
    can('Observation')
      ? all<Observation>(
          client,
          `Observation?patient=${id}&_elements=identifier,device,effective,subject,category&_count=1000`
        )
      : [],
    can('RiskAssessment') ? all<RiskAssessment>(client, `RiskAssessment?patient=${id}&_count=200`) : [],
    can('Task') ? all<Task>(client, `Task?patient=${id}&_count=200`) : [],
    can('CarePlan') ? all<CarePlan>(client, `CarePlan?patient=${id}&_count=200`) : [],
    can('AuditEvent') ? all<AuditEvent>(client, `AuditEvent?patient=${id}&_count=500`) : [],
  ]);
  return {
    name: nameOf(patient),
    ranges: usualRanges(twin),
    days: recentDays(twin),
    noticed: noticed(findings, tasks, new Set(twin.map((o) => o.id ?? ''))),
    plans: proposalStatuses(plans, tasks),
    sources: dataSources(measured),
    access: accessList(audit, `Patient/${id}`),
  };
}

function PatientPage({ view }: { view: PatientPageView }) {
  return (
    <main class="patient">
      <header>
        <h1>Your recovery twin, {view.name}</h1>
        <p class="note">
          This page shows what the recovery twin worked out from your own measurements. Anything marked{' '}
          <span class="estimate">estimate</span> was calculated by a computer program; it is not a measurement and not a
          diagnosis. Your clinician sees the same things.
        </p>
      </header>
      <section aria-labelledby="h-usual">
        <h2 id="h-usual">Your usual ranges</h2>
        {view.ranges.length === 0 ? (
          <p>The twin has not worked out your usual ranges yet.</p>
        ) : (
          <ul data-testid="usual-ranges">
            {view.ranges.map((r) => (
              <li key={r.label}>
                {r.sentence} {r.known ? <span class="estimate">estimate</span> : null}
                <div class="note">{r.basis}</div>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="h-days">
        <h2 id="h-days">How you have been lately</h2>
        <p class="note">
          Each day gets a recovery score: 0 is a usual day for you, above 0 better than usual, below 0 more strain than
          usual. <span class="estimate">estimate</span>
        </p>
        {view.days.length === 0 ? (
          <p>No day has a recovery score yet.</p>
        ) : (
          <ul data-testid="recent-days">
            {view.days.map((d) => (
              <li key={d.day}>
                {d.day}: {d.words} (score {d.score > 0 ? '+' : ''}
                {plainNumber(d.score)})
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="h-noticed">
        <h2 id="h-noticed">What was noticed</h2>
        {view.noticed.length === 0 ? (
          <p>Nothing unusual has been noticed.</p>
        ) : (
          <ul data-testid="noticed">
            {view.noticed.map((n) => (
              <li key={n.id}>
                <strong>
                  From {n.when}: {n.what}
                </strong>{' '}
                <span class="estimate">estimate</span>
                <div>{n.review}</div>
                <div class="note">
                  Noticed by a computer program from {n.measurements} of your measurements. It is not a diagnosis.
                </div>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="h-plans">
        <h2 id="h-plans">Suggested plans</h2>
        {view.plans.length === 0 ? (
          <p>No plan has been suggested.</p>
        ) : (
          <ul data-testid="plans">
            {view.plans.map((p) => (
              <li key={p.id}>
                <strong>{p.title}</strong>: {p.status}
                {p.ordered > 0 ? (
                  <div class="note">
                    Your clinician ordered {p.ordered} {p.ordered === 1 ? 'activity' : 'activities'} of it to start now.
                  </div>
                ) : null}
                {p.activities.length > 0 ? (
                  <div class="note">
                    {p.ordered > 0 ? 'Later steps, once your clinician finds you ready' : 'It includes'}:{' '}
                    {p.activities.join('; ')}.
                  </div>
                ) : null}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="h-sources">
        <h2 id="h-sources">Where your data came from</h2>
        {view.sources.length === 0 ? (
          <p>No measurements yet.</p>
        ) : (
          <ul data-testid="sources">
            {view.sources.map((s) => (
              <li key={`${s.device}|${s.via}`}>
                From your {s.device}, via {s.via}: {s.measurements} measurements
                {s.from ? ` (${s.from} to ${s.to})` : ''}.
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="h-access">
        <h2 id="h-access">Who has looked at your twin</h2>
        <p class="note">
          Every look at your record through this server is written down. The list is updated every few seconds.
        </p>
        {view.access.length === 0 ? (
          <p>Nobody has looked at your twin yet.</p>
        ) : (
          <ul data-testid="access">
            {view.access.map((a, i) => (
              <li key={i}>
                {a.day}: {a.who} {a.what} ({a.times} time{a.times === 1 ? '' : 's'}
                {a.app ? `, using ${a.app}` : ''}).
              </li>
            ))}
          </ul>
        )}
      </section>
    </main>
  );
}

/** Renders the patient's own page (the token's fhirUser is a Patient: SMART App Launch, standalone patient launch). */
export async function startPatientPage(client: Client, granted: string, root: HTMLElement): Promise<void> {
  const view = await loadOwnTwin(client, granted);
  render(<PatientPage view={view} />, root);
}
