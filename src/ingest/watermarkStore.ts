import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { internalFault } from '../fhir/outcomes';

/** Where a poll stopped: the last `meta.lastUpdated` seen, and the versions seen at exactly that instant. */
export interface Watermark {
  readonly lastUpdated?: string;
  /** `Type/id/_history/vid` of every resource seen with lastUpdated == `lastUpdated`, so `ge` does not re-count them. */
  readonly seenAtWatermark: readonly string[];
}

/**
 * Durable watermarks, one JSON file per source in a state folder. Written to a temporary file, fsynced and renamed
 * over the old one (rename is atomic on POSIX), so a crash leaves either the old or the new watermark, never half.
 */
export class WatermarkStore {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  load(source: string): Watermark {
    try {
      const parsed = JSON.parse(readFileSync(this.file(source), 'utf8')) as Partial<Watermark>;
      return { lastUpdated: parsed.lastUpdated, seenAtWatermark: parsed.seenAtWatermark ?? [] };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return { seenAtWatermark: [] };
      }
      throw internalFault(`Watermark file for source "${source}" is unreadable: ${(err as Error).message}`);
    }
  }

  save(source: string, watermark: Watermark): void {
    const target = this.file(source);
    const tmp = `${target}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(watermark));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  private file(source: string): string {
    return join(this.dir, `watermark-${source.replace(/[^A-Za-z0-9_-]/g, '_')}.json`);
  }
}
