import type {
  CarePlan,
  Observation,
  Parameters,
  Patient,
  PlanDefinition,
  Practitioner,
  RiskAssessment,
  Task,
} from '@medplum/fhirtypes';
import FHIR from 'fhirclient';
import { render } from 'preact';
import { useState } from 'preact/hooks';
import { Chart, type ChartSeries } from './Chart';
import { TWIN_CONCEPT_SYSTEM } from './config';
import { scopeAllows } from './grantedScopes';
import { startPatientPage } from './patientPage';
import {
  bandOn,
  BAND_SPREADS,
  bandVersions,
  basisCounts,
  citationsNotInNotes,
  dailyDeviation,
  dailyValues,
  daySeconds,
  driverSentence,
  drivers,
  isApprovedReview,
  isAwaitingReview,
  isCareTeamTask,
  isCurrentBaseline,
  findingsToShow,
  baselineMetric,
  metricLabel,
  metricToken,
  orderedOnApproval,
  orderKindWords,
  otherOpenTasks,
  personName,
  recoveryIndexSeries,
  type BandVersion,
  type DayValue,
  type Driver,
} from './twinData';

type Client = Awaited<ReturnType<typeof FHIR.oauth2.ready>>;

interface MetricView {
  readonly label: string;
  readonly unit: string;
  readonly values: DayValue[];
  readonly bands: BandVersion[];
  /** Day -> z against the baseline in force that day (the twin's daily state). */
  readonly deviation: ReadonlyMap<string, number>;
  /** Why the current baseline has no band (its dataAbsentReason), e.g. too few days of data. */
  readonly noBandReason?: string;
}

interface Proposal {
  readonly task: Task;
  readonly plan: CarePlan;
  readonly citations: string[];
}

interface PatientView {
  readonly patient: Patient;
  readonly index: DayValue[];
  readonly drivers: Driver[];
  readonly metrics: MetricView[];
  readonly findings: RiskAssessment[];
  /** Review Tasks of findings, by RiskAssessment id (findingResources.ts buildReviewTask). */
  readonly findingTasks: ReadonlyMap<string, Task>;
  readonly proposals: Proposal[];
  /** Ids of the twin's own computed Observations (daily states, baselines): not measurements. */
  readonly twinIds: ReadonlySet<string>;
  /** Open care-team Tasks that are no finding or proposal review (counted in the care-team list). */
  readonly otherTasks: Task[];
  /** The twin's plans a clinician approved, still in force: what an approval left in the record. */
  readonly inForce: Array<{ plan: CarePlan; task: Task }>;
}

interface CareTeamRow {
  readonly patient: string;
  /** The patient's name when the scopes allow reading other patients (user/Patient.rs). */
  readonly name?: string;
  /** Their birth date, which tells two patients of the same name apart. */
  readonly birthDate?: string;
  readonly open: number;
}

async function all<T>(client: Client, url: string): Promise<T[]> {
  return (await client.request<T[]>(url, { pageLimit: 0, flat: true })) ?? [];
}

function patientName(p: Patient): string {
  return personName(p.name) ?? `Patient ${p.id ?? ''}`;
}

async function loadPatient(client: Client, granted: string): Promise<PatientView> {
  const id = client.patient.id ?? '';
  const can = (type: string): boolean => scopeAllows(granted, type, 's');
  const [patient, twin, findings, tasks] = await Promise.all([
    client.request<Patient>(`Patient/${id}`),
    can('Observation')
      ? all<Observation>(
          client,
          `Observation?patient=${id}&category=${encodeURIComponent(`${TWIN_CONCEPT_SYSTEM}|`)}&_count=500`
        )
      : [],
    can('RiskAssessment') ? all<RiskAssessment>(client, `RiskAssessment?patient=${id}&_count=200`) : [],
    can('Task') ? all<Task>(client, `Task?patient=${id}&_count=200`) : [],
  ]);
  const states = twin.filter((o) =>
    (o.category ?? []).some((c) => c.coding?.some((x) => x.code === 'twin-recovery-state'))
  );
  const allBaselines = twin.filter((o) =>
    (o.category ?? []).some((c) => c.coding?.some((x) => x.code === 'twin-baseline'))
  );
  // One chart per metric: its current baseline; the weekly baselines in force give the band of each day.
  const baselines = allBaselines.filter(isCurrentBaseline);
  const metrics = await Promise.all(
    baselines.map(async (b): Promise<MetricView> => {
      const token = metricToken(b);
      const metric = baselineMetric(b) ?? '';
      const weekly = allBaselines.filter((o) => o !== b && baselineMetric(o) === metric);
      const measured = token
        ? await all<Observation>(client, `Observation?patient=${id}&code=${encodeURIComponent(token)}&_count=1000`)
        : [];
      return {
        label: metricLabel(b),
        unit: b.valueQuantity?.unit ?? measured[0]?.valueQuantity?.unit ?? '',
        values: dailyValues(measured),
        bands: bandVersions(weekly),
        deviation: dailyDeviation(states, metric),
        ...(b.dataAbsentReason?.text ? { noBandReason: b.dataAbsentReason.text } : {}),
      };
    })
  );
  const inForce: Array<{ plan: CarePlan; task: Task }> = [];
  if (can('CarePlan')) {
    for (const task of tasks.filter(isApprovedReview)) {
      const plan = await client.request<CarePlan>(task.focus?.reference ?? '').catch(() => undefined);
      if (plan?.status === 'active') {
        inForce.push({ plan, task });
      }
    }
  }
  const proposals: Proposal[] = [];
  for (const task of tasks.filter(isAwaitingReview)) {
    const plan = await client.request<CarePlan>(task.focus?.reference ?? '');
    let citations: string[] = [];
    const canonical = plan.instantiatesCanonical?.[0]?.split('|')[0];
    if (canonical && can('PlanDefinition')) {
      const defs = await all<PlanDefinition>(client, `PlanDefinition?url=${encodeURIComponent(canonical)}`).catch(
        () => []
      );
      citations = (defs[0]?.relatedArtifact ?? []).map((r) => r.citation ?? r.display ?? r.url ?? '').filter((t) => t);
    }
    proposals.push({ task, plan, citations });
  }
  return {
    patient,
    index: recoveryIndexSeries(states),
    drivers: drivers(states),
    metrics,
    findings: findingsToShow(findings, tasks),
    findingTasks: new Map(
      tasks
        .filter((t) => (t.focus?.reference ?? '').startsWith('RiskAssessment/'))
        .map((t) => [(t.focus?.reference ?? '').slice('RiskAssessment/'.length), t] as const)
    ),
    proposals,
    twinIds: new Set(twin.map((o) => o.id ?? '')),
    otherTasks: otherOpenTasks(tasks),
    inForce,
  };
}

/**
 * The signed-in clinician's name: the token's fhirUser (SMART App Launch, "fhirUser") read with user/Practitioner.r.
 * Without that scope, or if the read fails, the page shows the reference instead.
 */
async function loadUserName(
  client: Client,
  granted: string,
  fhirUser: string | undefined
): Promise<string | undefined> {
  if (!fhirUser?.startsWith('Practitioner/') || !scopeAllows(granted, 'Practitioner', 'r', ['user'])) {
    return undefined;
  }
  return client
    .request<Practitioner>(fhirUser)
    .then((p) => personName(p.name))
    .catch(() => undefined);
}

async function loadCareTeam(client: Client, granted: string): Promise<CareTeamRow[]> {
  const tasks = await all<Task>(client, `Task?status=requested,received,accepted,in-progress&_count=500`);
  const byPatient = new Map<string, number>();
  for (const t of tasks.filter(isCareTeamTask)) {
    const patient = t.for?.reference;
    if (patient?.startsWith('Patient/')) {
      byPatient.set(patient, (byPatient.get(patient) ?? 0) + 1);
    }
  }
  const names = new Map<string, { name: string; birthDate?: string }>();
  const ids = [...byPatient.keys()].map((ref) => ref.slice('Patient/'.length));
  if (ids.length > 0 && scopeAllows(granted, 'Patient', 's', ['user'])) {
    for (const p of await all<Patient>(client, `Patient?_id=${ids.map(encodeURIComponent).join(',')}&_count=500`).catch(
      () => []
    )) {
      names.set(`Patient/${p.id ?? ''}`, { name: patientName(p), ...(p.birthDate ? { birthDate: p.birthDate } : {}) });
    }
  }
  return [...byPatient.entries()]
    .map(([patient, open]) => ({ patient, open, ...names.get(patient) }))
    .sort((a, b) => b.open - a.open);
}

function IndexSection({ view }: { view: PatientView }) {
  if (view.index.length === 0) {
    return (
      <section aria-labelledby="h-index">
        <h2 id="h-index">Recovery index</h2>
        <p>No recovery state computed yet.</p>
      </section>
    );
  }
  const x = view.index.map((p) => daySeconds(p.day));
  const series: ChartSeries[] = [
    { label: 'Recovery index', values: view.index.map((p) => p.value), stroke: '#0b5cad' },
  ];
  return (
    <section aria-labelledby="h-index">
      <h2 id="h-index">Recovery index</h2>
      <Chart label={`Recovery index over ${view.index.length} days`} x={x} series={series} />
      <p class="note">
        Computed by the twin, not measured: each day, the mean of the metrics' deviations from the personal baseline (in
        robust standard deviations, SD), signed so that above 0 is better than usual and below 0 worse; 0 is a usual
        day.
      </p>
      <p class="note">
        Latest ({view.index[view.index.length - 1]?.day}): {view.index[view.index.length - 1]?.value}. The largest
        deviations that day, from the personal baseline:
      </p>
      <ul class="drivers">
        {view.drivers.slice(0, 5).map((d) => (
          <li key={d.label}>{driverSentence(d)}</li>
        ))}
      </ul>
    </section>
  );
}

function MetricChart({ metric }: { metric: MetricView }) {
  const x = metric.values.map((p) => daySeconds(p.day));
  const bands = metric.values.map((p) => bandOn(p.day, metric.bands));
  // Judged by the twin's own deviation of that day against that day's baseline; a day without one is not judged.
  const outside = metric.values.map((p) => {
    const z = metric.deviation.get(p.day);
    return z !== undefined && Math.abs(z) > BAND_SPREADS ? p.value : null;
  });
  const flagged = outside.filter((v) => v !== null).length;
  const judged = metric.values.filter((p) => metric.deviation.has(p.day)).length;
  const verdict =
    judged === 0
      ? `no day with a personal baseline yet${metric.noBandReason ? ` (${metric.noBandReason})` : ''}`
      : `${flagged} of ${judged} day${judged === 1 ? '' : 's'} outside the personal band in force that day`;
  const series: ChartSeries[] = [
    { label: `${metric.label} (measured)`, values: metric.values.map((p) => p.value), stroke: '#222' },
    { label: 'band low', values: bands.map((b) => b?.low ?? null), stroke: '#2e7d32', dash: [4, 4] },
    { label: 'band high', values: bands.map((b) => b?.high ?? null), stroke: '#2e7d32', dash: [4, 4] },
    { label: 'outside band', values: outside, stroke: '#b00020', pointsOnly: true },
  ];
  return (
    <figure class="metric">
      <figcaption>
        {metric.label} {metric.unit ? `(${metric.unit})` : ''}: {verdict}
      </figcaption>
      {metric.values.length > 0 ? (
        <Chart label={`${metric.label} daily values against the personal band`} x={x} series={series} height={130} />
      ) : (
        <p>No measurements.</p>
      )}
    </figure>
  );
}

const OPEN_TASK = new Set(['requested', 'received', 'accepted', 'in-progress']);

/**
 * A finding's review: confirm or dismiss (with a reason) completes its review Task in the clinician's name; the
 * finding itself stays as the detector wrote it (its episode may still be open). Shown only when the granted scopes
 * allow updating Tasks and the user is a Practitioner.
 */
function FindingReview(props: {
  task: Task;
  client: Client;
  mayDecide: boolean;
  fhirUser: string | undefined;
  onDone: (m: string) => void;
}) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const { task } = props;
  if (!OPEN_TASK.has(task.status)) {
    return <p class="note">Review: {task.businessStatus?.text ?? task.status}</p>;
  }
  if (!props.mayDecide) {
    return <p class="note">Awaiting review.</p>;
  }
  const decide = async (verdict: 'confirmed' | 'dismissed'): Promise<void> => {
    setBusy(true);
    try {
      const updated: Task = {
        ...task,
        status: 'completed',
        businessStatus: { text: verdict === 'confirmed' ? 'finding confirmed' : 'finding dismissed' },
        owner: task.owner ?? { reference: props.fhirUser },
        lastModified: new Date().toISOString(),
        ...(verdict === 'dismissed' ? { statusReason: { text: reason } } : {}),
      };
      await props.client.request({
        url: `Task/${task.id ?? ''}`,
        method: 'PUT',
        // Optimistic locking (FHIR R4 http.html#concurrency): a colleague's decision in the meantime wins.
        headers: { 'Content-Type': 'application/fhir+json', 'If-Match': `W/"${task.meta?.versionId ?? ''}"` },
        body: JSON.stringify(updated),
      });
      props.onDone(`Done: finding ${verdict}.`);
    } catch (err) {
      setError(`Not done: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      setBusy(false);
    }
  };
  const id = task.id ?? '';
  return (
    <div class="actions">
      <button type="button" disabled={busy} onClick={() => void decide('confirmed')}>
        Confirm finding
      </button>{' '}
      <label for={`dismiss-${id}`}>Reason to dismiss</label>{' '}
      <input id={`dismiss-${id}`} value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />{' '}
      <button
        type="button"
        class="secondary"
        disabled={busy || !reason.trim()}
        onClick={() => void decide('dismissed')}
      >
        Dismiss finding
      </button>
      {error ? <p role="alert">{error}</p> : null}
    </div>
  );
}

function FindingsSection(props: {
  findings: RiskAssessment[];
  tasks: ReadonlyMap<string, Task>;
  twinIds: ReadonlySet<string>;
  client: Client;
  mayDecide: boolean;
  fhirUser: string | undefined;
  onDone: (m: string) => void;
}) {
  const { findings } = props;
  return (
    <section aria-labelledby="h-findings">
      <h2 id="h-findings">Findings: ongoing or awaiting review</h2>
      {findings.length === 0 ? (
        <p>No early-warning finding is ongoing or waiting for review.</p>
      ) : (
        <ul class="findings">
          {findings.map((f) => {
            const task = props.tasks.get(f.id ?? '');
            const basis = basisCounts(f, props.twinIds);
            return (
              <li key={f.id}>
                <strong>
                  {f.status === 'final' ? 'Episode from' : 'Since'} {f.occurrenceDateTime?.slice(0, 10)}
                  {f.status === 'final' ? ' (ended, review pending)' : ''}:{' '}
                  {f.prediction?.[0]?.outcome?.text ?? 'deviation from the personal baseline'}
                </strong>
                <p>{f.note?.[0]?.text}</p>
                <p class="note">
                  Based on {basis.measured} measurement{basis.measured === 1 ? '' : 's'}
                  {basis.computed > 0 ? ` and ${basis.computed} of the twin's computed daily states and baselines` : ''}
                  . AI-generated, not a diagnosis.
                </p>
                {task ? (
                  <FindingReview
                    task={task}
                    client={props.client}
                    mayDecide={props.mayDecide}
                    fhirUser={props.fhirUser}
                    onDone={props.onDone}
                  />
                ) : (
                  <p class="note">
                    No review requested: its likelihood is low (or a recorded condition or procedure explains it), so no
                    review task was created. Listed while the episode is open.
                  </p>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

function ProposalSection(props: {
  proposal: Proposal;
  client: Client;
  granted: string;
  fhirUser: string | undefined;
  onDone: (message: string) => void;
}) {
  const { plan, task } = props.proposal;
  const citations = citationsNotInNotes(props.proposal.citations, plan);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState('');
  const [reason, setReason] = useState('');
  const [drop, setDrop] = useState<number[]>([]);
  const [note, setNote] = useState('');
  // The phases of the plan, in order, from its activities' phase labels ("Phase 2 — …: from approval").
  const phases = phaseChoices(plan);
  // No phase in force on the proposal: the record could not decide, so the clinician chooses it at approval.
  const mustChoosePhase = !(plan.extension ?? []).some((e) => e.url.endsWith('/protocol-phase'));
  const [phase, setPhase] = useState('');
  const mayDecide =
    scopeAllows(props.granted, 'Task', 'u') &&
    scopeAllows(props.granted, 'CarePlan', 'u') &&
    Boolean(props.fhirUser?.startsWith('Practitioner/'));
  const orders = orderedOnApproval(plan, mustChoosePhase ? phase : undefined);

  const review = async (decision: string, extra: Parameters['parameter'] = []): Promise<Parameters> =>
    props.client.request<Parameters>({
      url: `Task/${task.id ?? ''}/$review`,
      method: 'POST',
      headers: { 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Parameters',
        parameter: [
          { name: 'decision', valueCode: decision },
          { name: 'practitioner', valueReference: { reference: props.fhirUser } },
          ...(extra ?? []),
        ],
      } satisfies Parameters),
    });

  const decide = async (decision: 'approve' | 'modify' | 'reject'): Promise<void> => {
    setBusy(true);
    setMessage('');
    try {
      // The review state machine wants the review taken (accepted) before approve or modify.
      if (decision !== 'reject' && (task.status === 'requested' || task.status === 'received')) {
        await review('accept');
      }
      const extra: Parameters['parameter'] =
        decision === 'reject'
          ? [{ name: 'reason', valueString: reason }]
          : decision === 'modify'
            ? [
                ...drop.map((i) => ({ name: 'removeActivity', valueInteger: i })),
                ...(note ? [{ name: 'note', valueString: note }] : []),
              ]
            : phase
              ? [{ name: 'phase', valueString: phase }]
              : [];
      const result = await review(decision, extra);
      const status = result.parameter?.find((p) => p.name === 'carePlanStatus')?.valueCode;
      // Announced by the app (this section goes once the proposal is decided).
      props.onDone(`Done: care plan "${plan.title ?? ''}" ${status ?? 'updated'}.`);
    } catch (err) {
      setMessage(`Not done: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby={`h-plan-${plan.id ?? ''}`} class="proposal">
      <h2 id={`h-plan-${plan.id ?? ''}`}>Proposed care plan: {plan.title}</h2>
      <p class="badge">Draft proposal, AI-assisted: not in force until a clinician approves it.</p>
      <h3>Why this protocol, and where to start</h3>
      <p>{plan.description}</p>
      <h3>Activities</h3>
      <ol class="activities">
        {(plan.activity ?? []).map((a, i) => (
          <li key={i}>
            <label>
              {mayDecide ? (
                <input
                  type="checkbox"
                  checked={drop.includes(i)}
                  onChange={(e) =>
                    setDrop((d) => ((e.target as HTMLInputElement).checked ? [...d, i] : d.filter((x) => x !== i)))
                  }
                  aria-label={`Remove activity ${i + 1} when modifying`}
                />
              ) : null}{' '}
              <strong>{a.detail?.code?.text}</strong> — {a.detail?.scheduledString}
            </label>
            <div class="note">{a.detail?.description}</div>
          </li>
        ))}
      </ol>
      {(plan.note ?? []).map((n, i) => (
        <p key={i} class="note">
          {n.text}
        </p>
      ))}
      {citations.length > 0 ? (
        <>
          <h3>Sources</h3>
          <ul>
            {citations.map((c) => (
              <li key={c}>{c}</li>
            ))}
          </ul>
        </>
      ) : null}
      <h3>What approval will order</h3>
      {orders.length === 0 ? (
        <p>
          {mustChoosePhase && !phase
            ? "Choose the starting phase below: approval orders that phase's activities."
            : 'Nothing is ordered on approval (no starting-phase request).'}
        </p>
      ) : (
        <ul data-testid="orders">
          {orders.map((a, i) => (
            <li key={i}>
              {orderKindWords(a.detail?.kind)}: {a.detail?.code?.text}
            </li>
          ))}
        </ul>
      )}
      {mayDecide ? (
        <div class="actions">
          {mustChoosePhase ? (
            <p>
              <label for={`phase-${plan.id ?? ''}`}>
                The record does not show which phase applies: choose the starting phase
              </label>
              <br />
              <select
                id={`phase-${plan.id ?? ''}`}
                value={phase}
                onChange={(e) => setPhase((e.target as HTMLSelectElement).value)}
              >
                <option value="">(choose a phase)</option>
                {phases.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.label}
                  </option>
                ))}
              </select>
            </p>
          ) : null}
          <button type="button" disabled={busy || (mustChoosePhase && !phase)} onClick={() => void decide('approve')}>
            Approve plan
          </button>
          <p>
            <label for={`note-${plan.id ?? ''}`}>Note for a modification</label>
            <br />
            <input
              id={`note-${plan.id ?? ''}`}
              value={note}
              onInput={(e) => setNote((e.target as HTMLInputElement).value)}
            />
          </p>
          <button type="button" disabled={busy || (drop.length === 0 && !note)} onClick={() => void decide('modify')}>
            Save modification
          </button>
          <p>
            <label for={`reason-${plan.id ?? ''}`}>Reason for rejecting</label>
            <br />
            <textarea
              id={`reason-${plan.id ?? ''}`}
              value={reason}
              onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)}
            />
          </p>
          <button
            type="button"
            class="secondary"
            disabled={busy || !reason.trim()}
            onClick={() => void decide('reject')}
          >
            Reject plan
          </button>
        </div>
      ) : (
        <p class="note">Your access does not include deciding on proposals.</p>
      )}
      {message ? <p role="alert">{message}</p> : null}
    </section>
  );
}

/** A patient as a clinician tells them apart: name and birth date; the reference only when the name is not readable. */
function careTeamLabel(r: CareTeamRow): string {
  if (!r.name) {
    return r.patient;
  }
  return r.birthDate ? `${r.name}, born ${r.birthDate}` : `${r.name} (${r.patient})`;
}

function CareTeam({ rows }: { rows: CareTeamRow[] }) {
  return (
    <section aria-labelledby="h-team">
      <h2 id="h-team">Care team: patients awaiting review</h2>
      {rows.length === 0 ? (
        <p>No patient has an open finding or a proposal awaiting review.</p>
      ) : (
        <ul>
          {rows.map((r) => (
            <li key={r.patient}>
              {careTeamLabel(r)}: {r.open} open review{r.open === 1 ? '' : 's'}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function App(props: {
  client: Client;
  granted: string;
  fhirUser: string | undefined;
  /** The signed-in user's name, read from their fhirUser resource when the scopes allow it. */
  userName: string | undefined;
  initial: PatientView;
  team: CareTeamRow[] | undefined;
}) {
  const [view, setView] = useState(props.initial);
  const [team, setTeam] = useState(props.team);
  const [announcement, setAnnouncement] = useState('');
  const refresh = (message: string): void => {
    setAnnouncement(message);
    void loadPatient(props.client, props.granted).then(setView);
    // The care-team list counts open reviews: a decision just taken closes one.
    if (props.team) {
      void loadCareTeam(props.client, props.granted)
        .then(setTeam)
        .catch(() => undefined);
    }
  };
  return (
    <main>
      <header>
        <h1>Recovery twin: {patientName(view.patient)}</h1>
        <p class="note">
          Signed in as {props.userName ?? (props.fhirUser ? `${props.fhirUser} (name not readable)` : 'unknown user')}.
        </p>
        <p role="status" data-testid="review-status" class="announcement">
          {announcement}
        </p>
      </header>
      <IndexSection view={view} />
      <section aria-labelledby="h-metrics">
        <h2 id="h-metrics">Metrics against the personal band</h2>
        {view.metrics.length === 0 ? (
          <p>No personal baseline yet.</p>
        ) : (
          view.metrics.map((m) => <MetricChart key={m.label} metric={m} />)
        )}
      </section>
      <FindingsSection
        findings={view.findings}
        tasks={view.findingTasks}
        twinIds={view.twinIds}
        client={props.client}
        mayDecide={scopeAllows(props.granted, 'Task', 'u') && Boolean(props.fhirUser?.startsWith('Practitioner/'))}
        fhirUser={props.fhirUser}
        onDone={refresh}
      />
      {view.proposals.length === 0 ? (
        <section aria-labelledby="h-plan">
          <h2 id="h-plan">Proposed care plan</h2>
          <p>No proposal awaiting review.</p>
        </section>
      ) : (
        view.proposals.map((p) => (
          <ProposalSection
            key={p.plan.id}
            proposal={p}
            client={props.client}
            granted={props.granted}
            fhirUser={props.fhirUser}
            onDone={refresh}
          />
        ))
      )}
      {view.inForce.length > 0 ? (
        <section aria-labelledby="h-in-force">
          <h2 id="h-in-force">Care plans in force</h2>
          <ul data-testid="in-force">
            {view.inForce.map(({ plan, task }) => (
              <li key={plan.id}>
                <strong>{plan.title}</strong>: {plan.status}, {task.businessStatus?.text ?? 'approved'}
                {task.lastModified ? ` on ${task.lastModified.slice(0, 10)}` : ''}
                {plan.activity?.some((a) => a.reference)
                  ? `; ${plan.activity.filter((a) => a.reference).length} activities ordered`
                  : ''}
                .
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {view.otherTasks.length > 0 ? (
        <section aria-labelledby="h-other-tasks">
          <h2 id="h-other-tasks">Other open tasks for the care team</h2>
          <ul data-testid="other-tasks">
            {view.otherTasks.map((t) => (
              <li key={t.id}>
                <strong>{t.code?.text ?? 'Task'}</strong> ({t.status}
                {t.authoredOn ? `, since ${t.authoredOn.slice(0, 10)}` : ''}): {t.description}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {team ? <CareTeam rows={team} /> : null}
    </main>
  );
}

async function start(): Promise<void> {
  const root = document.getElementById('root');
  if (!root) {
    return;
  }
  try {
    const started = performance.now();
    const client = await FHIR.oauth2.ready();
    const granted = String((client.state.tokenResponse as { scope?: string } | undefined)?.scope ?? '');
    const fhirUser = client.getFhirUser() ?? undefined;
    if (fhirUser?.startsWith('Patient/')) {
      // The patient signed in as themselves (standalone patient launch): their own page, in plain words.
      root.innerHTML = '';
      await startPatientPage(client, granted, root);
      document.body.dataset.ready = 'true';
      return;
    }
    const [initial, team, userName] = await Promise.all([
      loadPatient(client, granted),
      scopeAllows(granted, 'Task', 's', ['user'])
        ? loadCareTeam(client, granted).catch(() => undefined)
        : Promise.resolve(undefined),
      loadUserName(client, granted, fhirUser),
    ]);
    render(
      <App client={client} granted={granted} fhirUser={fhirUser} userName={userName} initial={initial} team={team} />,
      root
    );
    // First meaningful render, read by `npm run bench -- app`.
    (window as unknown as { twinFirstRenderMs?: number }).twinFirstRenderMs = performance.now() - started;
    document.body.dataset.ready = 'true';
  } catch (err) {
    root.innerHTML = '';
    const p = document.createElement('p');
    p.setAttribute('role', 'alert');
    p.textContent = `The recovery twin could not start: ${err instanceof Error ? err.message : String(err)}`;
    root.appendChild(p);
    document.body.dataset.ready = 'error';
  }
}

void start();

/**
 * The plan's phases in order: each activity names its phase by the protocol's phase id (extension protocol-phase)
 * and in words ("Phase 2 — Strength: …"). The id is what `$review` takes, so no numbering is guessed.
 */
function phaseChoices(plan: CarePlan): Array<{ id: string; label: string }> {
  const out: Array<{ id: string; label: string }> = [];
  for (const a of plan.activity ?? []) {
    const id = a.detail?.extension?.find((e) => e.url.endsWith('/protocol-phase'))?.valueString;
    const label = (a.detail?.scheduledString ?? '').split(':')[0].trim();
    if (id && !out.some((p) => p.id === id)) {
      out.push({ id, label: label || id });
    }
  }
  return out;
}
