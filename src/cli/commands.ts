import type { Command } from 'commander';
import type { DoorMount } from '../server/doorMount';
import type { EngineMetrics } from '../ops/engineMetrics';
import type { OperationClient } from '../server/operations/operationClient';
import type { OperationModule } from '../server/operations/operationModule';
import type { OpenRepository, SeedRepository } from './serveCommand';
import { registerAutomateCommand } from './automateCommand';
import { registerConfigCommand } from './configCommand';
import { registerBackupCommands } from './backupCommand';
import { registerDetectCommands } from './detectCommand';
import { registerEraseCommand } from './eraseCommand';
import { registerFindingsCommand } from './findingsCommand';
import { registerImportCommand } from './importCommand';
import { registerPlanCommands } from './planCommand';
import { registerPollCommand } from './pollCommand';
import { registerRefreshCommand } from './refreshCommand';
import { registerRetrieveCommands } from './retrieveCommand';
import { registerSeedCommand } from './seedCommand';
import { registerServeCommand } from './serveCommand';
import { registerSimulateCommands } from './simulateCommand';
import { registerWithdrawCommand } from './withdrawCommand';

/** What `twin serve` hands the operations it serves: its metrics and the settings they read. */
export interface OperationsWorld {
  readonly metrics: EngineMetrics;
  /** IANA time zone of the patient's day for UTC-only times. */
  readonly timeZone?: string;
  /** Who reviews findings above the threshold. */
  readonly reviewOwner?: string;
  /** The learned detector's folder. */
  readonly modelDir?: string;
  /** Where the operations read and write the patient data (the engine service: the hospital's server). */
  readonly clientOf?: OperationClient;
}

/** What sub-commands need from the outside world; main.ts builds it, tests pass fakes. */
export interface CliDependencies {
  /** Opens the durable store on a data directory (main.ts wires the SQLite store). */
  readonly openRepository: OpenRepository;
  /** Loads the synthetic cohort into a repository; absent until a seed loader is wired. */
  readonly seedRepository?: SeedRepository;
  /** The FHIR operations `twin serve` offers (src/server/operations/registry.ts); built when the server starts. */
  readonly operations?: (world: OperationsWorld) => Promise<readonly OperationModule[]>;
  /** Non-FHIR doors `twin serve` mounts (SMART authorization, CDS Hooks, app); /metrics is the server's own. */
  readonly mounts?: readonly DoorMount[];
  readonly version: string;
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
}

/** Adds one sub-command (with its options and --help) to the `twin` program. */
export type CommandRegistration = (program: Command, deps: CliDependencies) => void;

/**
 * Every `twin` sub-command. A new command lives in its own file exporting a `CommandRegistration`,
 * and is added to this list; nothing else changes.
 */
export const COMMAND_REGISTRATIONS: readonly CommandRegistration[] = [
  registerServeCommand,
  registerSeedCommand,
  registerImportCommand,
  registerRefreshCommand,
  registerPollCommand,
  registerDetectCommands,
  registerFindingsCommand,
  registerRetrieveCommands,
  registerPlanCommands,
  registerSimulateCommands,
  registerWithdrawCommand,
  registerEraseCommand,
  registerAutomateCommand,
  registerConfigCommand,
  registerBackupCommands,
];

export function registerCommands(program: Command, deps: CliDependencies): void {
  for (const register of COMMAND_REGISTRATIONS) {
    register(program, deps);
  }
}
