import type { EvidenceOperationDeps } from '../evidenceOperations';
import type { SimulateOperationDeps } from '../simulateOperation';
import { evidenceOperationModules } from './evidenceOperationModules';
import type { OperationClient } from './operationClient';
import type { OperationModule } from './operationModule';
import { simulateOperationModule } from './simulateOperationModule';
import { twinFindingsOperation, type TwinFindingsOperationDeps } from './twinFindingsOperation';
import { twinRefreshOperation, type TwinRefreshOperationDeps } from './twinRefreshOperation';

export interface EmbeddedOperationDeps {
  readonly twinRefresh: TwinRefreshOperationDeps;
  /** `$twin-findings` (detection for one patient, the learned detector included when installed); absent: not served. */
  readonly twinFindings?: TwinFindingsOperationDeps;
  /** The protocol library and matcher; without it, `$match-evidence` and `$review` are not served nor declared. */
  readonly evidence?: EvidenceOperationDeps;
  /** The protocol library for `$simulate`; without it, `$simulate` is not served nor declared. */
  readonly simulate?: SimulateOperationDeps;
  /** Where every operation reads and writes the patient's data (default: this server's store, in-process). */
  readonly clientOf?: OperationClient;
}

/**
 * Every FHIR operation the embedded server serves through its router. Adding one is one new file in this folder
 * (exporting an OperationModule) and one line here; the route and the CapabilityStatement entry both follow.
 */
export function embeddedOperations(deps: EmbeddedOperationDeps): OperationModule[] {
  const where = deps.clientOf ? { clientOf: deps.clientOf } : {};
  return [
    twinRefreshOperation({ ...deps.twinRefresh, ...where }),
    ...(deps.twinFindings ? [twinFindingsOperation({ ...deps.twinFindings, ...where })] : []),
    ...(deps.evidence ? evidenceOperationModules({ ...deps.evidence, ...where }) : []),
    ...(deps.simulate ? [simulateOperationModule({ ...deps.simulate, ...where })] : []),
  ];
}
