import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { SourceFile } from './importRecord';

/** The files of an export as an importer reads them, and the subject key the folder layout gives. */
export interface ExportFiles {
  readonly files: SourceFile[];
  /** The participant folder name (PMData `pNN`), or the folder's own name. */
  readonly subjectKey: string;
}

/**
 * Files of an export: a single file, a folder, or a participant folder holding `<sub>/` (PMData layout
 * `pNN/fitbit`, `pNN/pmsys`). Only names ending in one of `extensions` are read, in name order.
 */
export async function readExportFiles(path: string, sub: string, extensions: readonly string[]): Promise<ExportFiles> {
  const info = await stat(path);
  let dir: string;
  let names: string[];
  if (info.isDirectory()) {
    dir = path;
    if (sub && (await isDirectory(join(path, sub)))) {
      dir = join(path, sub);
    }
    names = (await readdir(dir)).filter((n) => extensions.some((e) => n.endsWith(e))).sort();
  } else {
    dir = dirname(path);
    names = [basename(path)];
  }
  const files: SourceFile[] = [];
  for (const name of names) {
    files.push({ name, text: await readFile(join(dir, name), 'utf8') });
  }
  const subjectKey = sub && basename(dir) === sub ? basename(dirname(dir)) : basename(dir);
  return { files, subjectKey };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
