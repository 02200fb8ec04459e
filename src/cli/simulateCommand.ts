import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import type { CliDependencies } from './commands';
import { openEngineTarget } from './engineTarget';

interface SimulateFlags {
  readonly patient: string;
  readonly scenario?: string[];
  readonly horizon?: string;
  readonly trajectories?: string;
  readonly seed?: string;
  readonly eventDate?: string;
  readonly write: boolean;
  readonly fhir?: string;
  readonly dataDir: string;
}

interface EvalSimulateFlags {
  readonly pmdata: string;
  readonly cohortPatients: string;
  readonly cohortSeed: string;
  readonly trajectories: string;
  readonly tuning: boolean;
}

/**
 * `twin simulate --patient ID --scenario ankle-sprain --scenario 'ankle-sprain:sleep=+1,sessions=2'`: simulates
 * candidate protocols with what-if levers (src/simulate/) and writes one RiskAssessment per scenario; prints the
 * comparison. `twin eval simulate`: the calibration back-test on the development data (src/simulate/calibration.ts).
 */
export function registerSimulateCommands(program: Command, deps: CliDependencies): void {
  program
    .command('simulate')
    .description('simulate recovery under candidate protocols and what-if levers; write the results as RiskAssessments')
    .requiredOption('--patient <id>', 'Patient id')
    .option(
      '--scenario <spec...>',
      'PROTOCOL[:lever=value,...], levers sleep=+1 sessions=2 progression=1.5 rest=3 illness=START+DAYS[xLOAD] ' +
        "adherence=0.8 label=TEXT (default: the protocols of the patient's draft proposals)"
    )
    .option('--horizon <days>', 'days to simulate (7-365; default: long enough for the latest target, at least 90)')
    .option('--trajectories <n>', 'Monte Carlo trajectories per scenario (default 10000)')
    .option('--seed <n>', 'random seed (default 1): same inputs and seed, same results')
    .option('--event-date <YYYY-MM-DD>', 'day of the injury, operation or illness onset (default: from the record)')
    .option('--no-write', 'print the comparison only; write nothing')
    .option('--fhir <url>', 'FHIR R4 base URL of the server (default: the embedded store in --data-dir)')
    .option('--data-dir <dir>', 'embedded store folder (env DATA_DIR)', deps.env.DATA_DIR ?? './data')
    .action(async (flags: SimulateFlags, command: Command) => {
      try {
        const { loadProtocolLibrary } = await import('../protocols/protocolLibrary');
        const { parseScenarioSpec } = await import('../simulate/scenarioSpec');
        const { simulatePatient } = await import('../simulate/simulateWriter');
        const scenarios = (flags.scenario ?? []).map(parseScenarioSpec);
        const target = await openEngineTarget(flags);
        try {
          const result = await simulatePatient(
            flags.patient,
            {
              scenarios,
              horizonDays: optionalNumber(flags.horizon),
              trajectories: optionalNumber(flags.trajectories),
              seed: optionalNumber(flags.seed),
              eventDate: flags.eventDate,
              write: flags.write,
            },
            {
              client: target.client,
              validate: target.validate,
              library: loadProtocolLibrary(),
              today: () => new Date().toISOString().slice(0, 10),
            }
          );
          if (result.status === 'skipped-consent') {
            deps.log(JSON.stringify(result));
            return;
          }
          deps.log(
            JSON.stringify(
              {
                status: result.status,
                horizonDays: result.outcome.horizon,
                written: result.written,
                fit: result.outcome.posterior,
                scenarios: result.outcome.results.map((r, i) => ({
                  rank: r.rank,
                  scenario: r.scenario.label,
                  daysToBaseline: r.summary.daysToBaseline,
                  targetDays: r.summary.targetDaysFromToday,
                  probabilityWithinTarget: Number(r.summary.probabilityWithinTarget.toFixed(3)),
                  probabilitySetback: Number(r.summary.probabilitySetback.toFixed(3)),
                  riskAssessment: result.assessments[i]?.reference,
                })),
              },
              null,
              2
            )
          );
        } finally {
          target.close();
        }
      } catch (err) {
        command.error(`twin simulate: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });

  evalGroup(program)
    .command('simulate')
    .description(
      'back-test the simulator: fit up to cut days, predict the next weeks; coverage of the 80% intervals and error ' +
        'of the median vs last value carried forward (PMData readiness and resting HR; synthetic recoveries)'
    )
    .option('--pmdata <dir>', 'PMData folder (participants p01..p16)', '../shared/data/pmdata')
    .option('--cohort-patients <n>', 'synthetic cohort size (twin seed generator)', '60')
    .option('--cohort-seed <n>', 'synthetic cohort seed', '2026')
    .option('--trajectories <n>', 'trajectories per forecast', '2000')
    .option('--tuning', 'report the tuning people (PMData p01-p04, synthetic seed 7) instead of the held-out ones')
    .action(async (flags: EvalSimulateFlags, command: Command) => {
      try {
        const { runCalibration, formatCalibration } = await import('../simulate/calibration');
        const report = await runCalibration({
          pmdataDir: flags.pmdata,
          cohortPatients: Number(flags.cohortPatients),
          cohortSeed: flags.tuning ? 7 : Number(flags.cohortSeed),
          trajectories: Number(flags.trajectories),
          split: flags.tuning ? 'tuning' : 'evaluation',
          log: (line) => void process.stderr.write(`${line}\n`),
        });
        deps.log(formatCalibration(report));
      } catch (err) {
        command.error(`twin eval simulate: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
}

function optionalNumber(text: string | undefined): number | undefined {
  if (text === undefined) {
    return undefined;
  }
  const n = Number(text);
  if (!Number.isFinite(n)) {
    throw new Error(`expected a number, got '${text}'`);
  }
  return n;
}

/** The `eval` command group, shared with `twin eval detect` and `eval retrieve` (whichever registers first creates it). */
function evalGroup(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'eval') ??
    program.command('eval').description('evaluate a stage against labelled data')
  );
}
