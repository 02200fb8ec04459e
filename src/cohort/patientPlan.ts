import type { Prng } from './prng';

/**
 * Who a synthetic patient is and what will happen to them: persona, personal baselines and the schedule of
 * injected events. Drawn once per patient from its own PRNG stream, before any day is simulated.
 */
export type Persona = 'athlete' | 'injured-athlete' | 'post-surgery';

/** Injuries with SNOMED CT codes verified in the stored Synthea bundles (shared/data/synthea). */
export interface InjuryKind {
  readonly snomed: string;
  readonly display: string;
  /** Recovery time constant in days (deficit decays as exp(-t/tau)). */
  readonly tau: number;
  /** Effect sizes at day 0 of the deficit. */
  readonly rhrRise: number;
  readonly painAtOnset: number;
}

export const INJURY_KINDS: readonly InjuryKind[] = Object.freeze([
  // Synthea: 44465007 'Sprain of ankle (disorder)'
  { snomed: '44465007', display: 'Sprain of ankle (disorder)', tau: 9, rhrRise: 3, painAtOnset: 6 },
  // Synthea: 58150001 'Fracture of clavicle (disorder)'
  { snomed: '58150001', display: 'Fracture of clavicle (disorder)', tau: 18, rhrRise: 4, painAtOnset: 7 },
  // Synthea: 62106007 'Concussion with no loss of consciousness (disorder)'
  {
    snomed: '62106007',
    display: 'Concussion with no loss of consciousness (disorder)',
    tau: 12,
    rhrRise: 3,
    painAtOnset: 4,
  },
]);

/**
 * Surgery is written as a text-only Procedure.code: no SNOMED code for a knee ligament reconstruction (or any
 * orthopaedic operation) occurs in the stored sources, and codes are never written from memory.
 */
export const SURGERY_TEXT = 'Anterior cruciate ligament reconstruction (knee)';
export const SURGERY = Object.freeze({ tau: 28, rhrRise: 9, painAtOnset: 7 });

export interface Baselines {
  readonly restingHr: number;
  /** ln(RMSSD in ms). */
  readonly lnRmssd: number;
  readonly respiratoryRate: number;
  readonly sleepHours: number;
  readonly steps: number;
  readonly weightKg: number;
  /** Typical session load (sRPE x min) of a training day, athletes only. */
  readonly sessionLoad: number;
  /** Days of the week (0 = Sunday) without training. */
  readonly restDays: readonly number[];
}

export interface PatientPlan {
  readonly index: number;
  readonly subjectKey: string;
  readonly persona: Persona;
  readonly gender: 'female' | 'male';
  readonly birthYear: number;
  readonly baselines: Baselines;
  readonly injury?: { readonly day: number; readonly kind: InjuryKind };
  /** Surgery day (may be 0: the cohort starts on the day of surgery). */
  readonly surgeryDay?: number;
  readonly illness?: { readonly symptomDay: number; readonly leadDays: number; readonly severity: number };
  readonly overreaching?: { readonly day: number; readonly length: number };
  readonly plateau?: { readonly day: number; readonly length: number };
  readonly gap?: { readonly day: number; readonly length: number };
  readonly deviceChangeDay?: number;
}

/** Days at the start kept free of events so a personal baseline can form. */
export const BASELINE_DAYS = 21;

export function drawPatientPlan(prng: Prng, index: number, subjectKey: string, days: number): PatientPlan {
  const roll = prng.next();
  const persona: Persona = roll < 0.5 ? 'athlete' : roll < 0.75 ? 'injured-athlete' : 'post-surgery';
  const gender = prng.chance(0.5) ? 'female' : 'male';
  const athletic = persona !== 'post-surgery';
  const baselines: Baselines = {
    restingHr: prng.normal(athletic ? 54 : 64, athletic ? 5 : 6) + (gender === 'female' ? 3 : 0),
    lnRmssd: Math.log(Math.max(12, prng.normal(athletic ? 62 : 38, athletic ? 18 : 12))),
    respiratoryRate: prng.normal(14.5, 1.3),
    sleepHours: prng.normal(7.3, 0.5),
    steps: Math.max(3000, prng.normal(athletic ? 10_000 : 6500, 2000)),
    weightKg: prng.normal(gender === 'female' ? 64 : 78, 8),
    sessionLoad: athletic ? Math.max(200, prng.normal(420, 90)) : 0,
    restDays: prng.pick([[1], [1, 4], [3], [1, 5]]),
  };
  const windowed = (minLen: number): number | undefined =>
    days - BASELINE_DAYS - minLen > 0 ? prng.int(BASELINE_DAYS, days - minLen - 1) : undefined;

  let injury: PatientPlan['injury'];
  let surgeryDay: number | undefined;
  let plateau: PatientPlan['plateau'];
  if (persona === 'injured-athlete') {
    const day = windowed(30);
    if (day !== undefined) {
      injury = { day, kind: prng.pick(INJURY_KINDS) };
    }
  } else if (persona === 'post-surgery') {
    surgeryDay = 0;
  }
  const recoveryStart = injury?.day ?? surgeryDay;
  if (recoveryStart !== undefined && prng.chance(0.5)) {
    const day = recoveryStart + prng.int(10, 25);
    const length = prng.int(14, 21);
    if (day + length < days) {
      plateau = { day, length };
    }
  }

  let illness: PatientPlan['illness'];
  if (prng.chance(0.35)) {
    const leadDays = prng.int(1, 7);
    const symptomDay = windowed(14);
    if (symptomDay !== undefined && symptomDay - leadDays >= BASELINE_DAYS && !overlaps(symptomDay, recoveryStart)) {
      illness = { symptomDay, leadDays, severity: prng.normal(1, 0.2) };
    }
  }

  let overreaching: PatientPlan['overreaching'];
  if (athletic && prng.chance(0.3)) {
    const day = windowed(28);
    const length = prng.int(10, 16);
    if (day !== undefined && !overlaps(day, recoveryStart) && !overlaps(day, illness?.symptomDay, 30)) {
      overreaching = { day, length };
    }
  }

  let gap: PatientPlan['gap'];
  if (prng.chance(0.4)) {
    const day = windowed(12);
    // A gap inside an illness would hide the injected truth from every detector; keep them apart.
    if (day !== undefined && !overlaps(day, illness?.symptomDay, 20)) {
      gap = { day, length: prng.int(4, 10) };
    }
  }
  const deviceChangeDay = prng.chance(0.3) ? windowed(5) : undefined;

  return {
    index,
    subjectKey,
    persona,
    gender,
    birthYear: prng.int(1965, 2004),
    baselines,
    injury,
    surgeryDay,
    illness,
    overreaching,
    plateau,
    gap,
    deviceChangeDay,
  };
}

/** Keeps an event out of the first 30 days of an injury/surgery recovery so truths do not mask each other. */
function overlaps(day: number, other: number | undefined, margin = 30): boolean {
  return other !== undefined && Math.abs(day - other) < margin;
}
