import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { ScenarioLevers, ScenarioRequest } from './scenarioSchedule';

/**
 * A scenario written on one line (the CLI's `--scenario`): `PROTOCOL[:lever=value,...]`, levers
 * `sleep=+1` (extra hours a night), `sessions=2` (a week), `progression=1.5`, `rest=3` (days first),
 * `illness=START+DAYS[xLOADFACTOR]` (e.g. `illness=5+7x1.5`: ill from day 5 for 7 days, training on at 150%),
 * `adherence=0.8`, `label=TEXT`. Values are checked later, with the $simulate rules (scenarioSchedule.ts).
 */
export function parseScenarioSpec(spec: string): ScenarioRequest {
  const [protocol, rest] = splitOnce(spec.trim(), ':');
  if (!protocol) {
    throw invalid(spec, 'no protocol');
  }
  const levers: { -readonly [K in keyof ScenarioLevers]: ScenarioLevers[K] } = {};
  let label: string | undefined;
  for (const item of rest ? rest.split(',') : []) {
    const [key, value] = splitOnce(item.trim(), '=');
    if (value === undefined || value === '') {
      throw invalid(spec, `'${item}' is not lever=value`);
    }
    switch (key) {
      case 'sleep':
        levers.sleepExtraHours = num(spec, value);
        break;
      case 'sessions':
        levers.sessionsPerWeek = num(spec, value);
        break;
      case 'progression':
        levers.progressionRate = num(spec, value);
        break;
      case 'rest':
        levers.restDays = num(spec, value);
        break;
      case 'adherence':
        levers.adherence = num(spec, value);
        break;
      case 'illness': {
        const match = /^(-?\d+)\+(-?\d+)(?:x(-?[\d.]+))?$/.exec(value);
        if (!match) {
          throw invalid(spec, `illness must be START+DAYS or START+DAYSxLOADFACTOR (got '${value}')`);
        }
        levers.illness = {
          startDay: Number(match[1]),
          days: Number(match[2]),
          loadFactor: match[3] ? Number(match[3]) : 0,
        };
        break;
      }
      case 'label':
        label = value;
        break;
      default:
        throw invalid(spec, `unknown lever '${key}' (sleep, sessions, progression, rest, illness, adherence, label)`);
    }
  }
  return { protocol, ...(label ? { label } : {}), levers };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function num(spec: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) {
    throw invalid(spec, `'${value}' is not a number`);
  }
  return n;
}

function invalid(spec: string, why: string): OperationOutcomeError {
  return new OperationOutcomeError(badRequest(`--scenario '${spec}': ${why}`, 'scenario'));
}
