import { allOk, badRequest, normalizeOperationOutcome, OperationOutcomeError } from '@medplum/core';
import type { FhirResponse } from '@medplum/fhir-router';
import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { detectorFor } from '../../detect/detectorRegistry';
import type { OpenDetector } from '../../detect/detector';
import {
  DEFAULT_FINDINGS_OPTIONS,
  ensureDetectorDevice,
  writePatientFindings,
  type PatientFindingsSummary,
} from '../../detect/findings/findingsWriter';
import { DEFAULT_LSTM_MODEL_DIR } from '../../detect/lstm/modelCard';
import {
  DEFAULT_FINDINGS_BUDGET,
  DEFAULT_OPERATING_POINTS_FILE,
  type BudgetedDetector,
  type OperatingPointsFile,
} from '../../detect/operating/operatingPoint';
import { TWIN_FINDINGS_OPERATION } from '../../fhir/codes/twinCodes';
import { inProcessClient, type OperationClient } from './operationClient';
import { publishedOperationDefinition } from './operationDefinitions';
import { operationInput } from './operationInput';
import type { EngineMetrics } from '../../ops/engineMetrics';
import { countedHandler } from './countedOperation';
import type { OperationModule } from './operationModule';

export interface TwinFindingsOperationDeps {
  /** Today (YYYY-MM-DD), for consent periods and Task expiry. */
  readonly today: () => string;
  /** Who reviews findings above the threshold (env TWIN_REVIEW_OWNER), if configured. */
  readonly taskOwner?: string;
  /** The learned detector's folder (default models/lstm-detector); absent there: the learned detector does not run. */
  readonly modelDir?: string;
  /** Where the patient's data is (default: this server's store). */
  readonly clientOf?: OperationClient;
  /** Counts each call and times each detector (src/ops/engineMetrics.ts); none: not counted. */
  readonly metrics?: EngineMetrics;
}

/**
 * `POST [base]/Patient/{id}/$twin-findings` (OperationDefinition Patient-twin-findings in fhir-profiles/): early-warning
 * detection for one patient with every detector this engine service has: the statistical ensemble, and the learned
 * LSTM detector when its model is installed and matches its card. This is what a Medplum bot calls, since a bot runtime
 * has no onnxruntime (bots/lib/patientDetection.ts). Each detector runs at its stored operating point for the default
 * false-alarm budget (models/detector-operating-points.json), as `twin findings` does. Answers counts only.
 */
export function twinFindingsOperation(deps: TwinFindingsOperationDeps): OperationModule {
  const operationDefinition = publishedOperationDefinition('Patient-twin-findings');
  return {
    name: 'twin-findings',
    resourceTypes: ['Patient'],
    levels: ['instance'],
    methods: ['POST'],
    definitionUrl: TWIN_FINDINGS_OPERATION,
    operationDefinition,
    handler: countedHandler(deps.metrics, 'twin-findings', async (req, repo, router): Promise<FhirResponse> => {
      if (req.params.resourceType !== undefined && req.params.resourceType !== 'Patient') {
        return [badRequest('$twin-findings is defined on Patient only')];
      }
      const opened: OpenDetector[] = [];
      try {
        operationInput(req.body, operationDefinition);
        const client = (deps.clientOf ?? inProcessClient)(repo, router);
        await client.read('Patient', req.params.id);
        const points = await operatingPoints();
        opened.push(await detectorFor('ensemble').open(at(points, 'ensemble')));
        const modelDir = deps.modelDir ?? DEFAULT_LSTM_MODEL_DIR();
        let learned = `not installed (no model in ${modelDir === DEFAULT_LSTM_MODEL_DIR() ? 'models/lstm-detector' : 'the configured folder'})`;
        if (existsSync(modelDir)) {
          // A model that does not match its card is refused here as at start (twin serve checks it before listening).
          opened.push(await detectorFor('lstm').open({ modelDir, workers: 1, ...at(points, 'lstm') }));
          learned = 'ran';
        }
        const findingsDeps = { client, today: deps.today };
        const results: { name: string; summary: PatientFindingsSummary }[] = [];
        for (const detector of opened) {
          const options = {
            ...DEFAULT_FINDINGS_OPTIONS,
            source: detector.source,
            ...(deps.taskOwner ? { taskOwner: deps.taskOwner } : {}),
          };
          const device = await ensureDetectorDevice(findingsDeps, detector.source);
          const done = deps.metrics?.detectorTimer(detector.source.detector);
          const summary = await writePatientFindings(req.params.id, device, findingsDeps, options).finally(done);
          results.push({ name: detector.source.detector, summary });
        }
        const parameters: Parameters = {
          resourceType: 'Parameters',
          parameter: [
            ...results.map(({ name, summary }): ParametersParameter => ({
              name: 'detector',
              part: [
                { name: 'name', valueString: name },
                { name: 'status', valueCode: summary.status },
                { name: 'episodes', valueInteger: summary.episodes },
                { name: 'findingsWritten', valueInteger: summary.findingsWritten },
                { name: 'tasksCreated', valueInteger: summary.tasksCreated },
              ],
            })),
            { name: 'learnedDetector', valueString: learned },
          ],
        };
        return [allOk, parameters];
      } catch (err) {
        return [err instanceof OperationOutcomeError ? err.outcome : normalizeOperationOutcome(err)];
      } finally {
        await Promise.all(opened.map((d) => d.close()));
      }
    }),
  };
}

async function operatingPoints(): Promise<OperatingPointsFile | undefined> {
  try {
    return JSON.parse(await readFile(DEFAULT_OPERATING_POINTS_FILE(), 'utf8')) as OperatingPointsFile;
  } catch {
    return undefined;
  }
}

/** The stored dense-mode threshold of a detector at the default budget, when one was tuned and reached. */
function at(points: OperatingPointsFile | undefined, detector: BudgetedDetector): { threshold?: number } {
  const point = points?.modes.dense?.[detector]?.[String(DEFAULT_FINDINGS_BUDGET)];
  return typeof point === 'number' ? { threshold: point } : {};
}
