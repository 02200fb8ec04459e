import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TEMP_SUFFIX, writeFileAtomic } from './atomicFile';
import type { ExportSpec } from './exportKickoff';
import { invalidInput } from '../../fhir/outcomes';

/** One written NDJSON file of a job; the URL is built when the manifest is served, so a new port is no problem. */
export interface ExportOutputFile {
  readonly type: string;
  /** File name inside the job's folder, e.g. `Observation.ndjson`. */
  readonly file: string;
  readonly count: number;
}

export type ExportJobStatus = 'in-progress' | 'completed' | 'failed';

/** The durable state of one export job: `<root>/<id>/job.json`. No resource content, only what was asked and done. */
export interface ExportJobRecord {
  readonly id: string;
  readonly status: ExportJobStatus;
  /** Kick-off URL, the manifest's `request`. */
  readonly request: string;
  /** Set at kick-off, before anything is read: the manifest's `transactionTime`. */
  readonly transactionTime: string;
  readonly spec: ExportSpec;
  readonly createdAt: string;
  readonly finishedAt?: string;
  readonly output: readonly ExportOutputFile[];
  /** Why a failed job failed, in words that never quote resource content. */
  readonly failure?: string;
}

const JOB_FILE = 'job.json';
/** Job ids are UUIDs; anything else in a URL never reaches the file system. */
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isJobId(value: string): boolean {
  return JOB_ID.test(value);
}

/**
 * Export jobs on disk, one folder per job holding `job.json` and the job's NDJSON files. `job.json` is replaced
 * atomically at every state change, so after a crash each job is in its last recorded state.
 */
export class ExportJobStore {
  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
  }

  jobDir(id: string): string {
    if (!isJobId(id)) {
      throw invalidInput('Not an export job id');
    }
    return join(this.root, id);
  }

  async save(record: ExportJobRecord): Promise<void> {
    const dir = this.jobDir(record.id);
    mkdirSync(dir, { recursive: true });
    await writeFileAtomic(join(dir, JOB_FILE), JSON.stringify(record));
  }

  load(id: string): ExportJobRecord | undefined {
    if (!isJobId(id)) {
      return undefined;
    }
    const path = join(this.root, id, JOB_FILE);
    if (!existsSync(path)) {
      return undefined;
    }
    return JSON.parse(readFileSync(path, 'utf8')) as ExportJobRecord;
  }

  /** Removes a job and its files (Bulk Data delete request). */
  remove(id: string): void {
    rmSync(this.jobDir(id), { recursive: true, force: true });
  }

  /**
   * Run once at start-up, before any job runs. A job recorded as in progress was interrupted by a stop or a crash:
   * nothing resumes it, so it is marked failed (its client sees the error status and can kick off again), and its
   * partial files are removed. A folder without `job.json` (a crash between mkdir and the first save) is removed.
   * Returns the ids of the jobs it marked failed.
   */
  async recover(now: Date): Promise<string[]> {
    const interrupted: string[] = [];
    for (const name of readdirSync(this.root)) {
      if (!isJobId(name)) {
        continue;
      }
      const record = this.load(name);
      if (!record) {
        this.remove(name);
        continue;
      }
      const wasRunning = record.status === 'in-progress';
      for (const file of readdirSync(join(this.root, name))) {
        // An interrupted job keeps nothing but its record: files it had finished belong to no manifest.
        if (file.endsWith(TEMP_SUFFIX) || (wasRunning && file !== JOB_FILE)) {
          unlinkSync(join(this.root, name, file));
        }
      }
      if (wasRunning) {
        interrupted.push(name);
        await this.save({
          ...record,
          status: 'failed',
          finishedAt: now.toISOString(),
          output: [],
          failure: 'The export was interrupted by a server restart; kick it off again',
        });
      }
    }
    return interrupted;
  }
}
