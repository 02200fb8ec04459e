import { badRequest, OperationOutcomeError } from '@medplum/core';

/** A corpus line of `twin retrieve --corpus`: `{"id","title","text"}` (title may be empty). */
export interface RetrievalDocument {
  readonly id: string;
  readonly title: string;
  readonly text: string;
}

/** A query line of `twin retrieve --queries`: `{"id","text"}`. */
export interface RetrievalQuery {
  readonly id: string;
  readonly text: string;
}

/**
 * Reads a JSON Lines file, every problem with its line number, all of them at once (a corpus of 10k lines with three bad
 * ones should be fixed in one go). Blank lines are skipped; duplicate ids are errors, since a run could not say which
 * document it ranked.
 */
export function parseCorpus(text: string, source = 'corpus'): RetrievalDocument[] {
  return parseJsonLines(text, source, (value, where, problems) => {
    const id = stringField(value, 'id', where, problems, true);
    const title = stringField(value, 'title', where, problems, false);
    const body = stringField(value, 'text', where, problems, true);
    return id !== undefined && body !== undefined ? { id, title: title ?? '', text: body } : undefined;
  });
}

export function parseQueries(text: string, source = 'queries'): RetrievalQuery[] {
  return parseJsonLines(text, source, (value, where, problems) => {
    const id = stringField(value, 'id', where, problems, true);
    const body = stringField(value, 'text', where, problems, true);
    return id !== undefined && body !== undefined ? { id, text: body } : undefined;
  });
}

/** One TREC run line: `qid Q0 docid rank score run` (rank from 1). */
export function trecRunLine(qid: string, docid: string, rank: number, score: number, run: string): string {
  return `${qid} Q0 ${docid} ${rank} ${score.toFixed(6)} ${run}`;
}

/** Reads a TREC run back: qid -> docids by rank. */
export function parseTrecRun(text: string, source = 'run'): Map<string, string[]> {
  const rows = new Map<string, { doc: string; rank: number }[]>();
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (!trimmed) {
      return;
    }
    const parts = trimmed.split(/\s+/);
    const rank = Number(parts[3]);
    if (parts.length !== 6 || !Number.isInteger(rank)) {
      throw new OperationOutcomeError(badRequest(`${source} line ${i + 1}: expected "qid Q0 docid rank score run"`));
    }
    const list = rows.get(parts[0]) ?? [];
    list.push({ doc: parts[2], rank });
    rows.set(parts[0], list);
  });
  return new Map([...rows].map(([qid, list]) => [qid, list.sort((a, b) => a.rank - b.rank).map((r) => r.doc)]));
}

function parseJsonLines<T extends { id: string }>(
  text: string,
  source: string,
  read: (value: Record<string, unknown>, where: string, problems: string[]) => T | undefined
): T[] {
  const problems: string[] = [];
  const out: T[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') {
      return;
    }
    const where = `${source} line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      problems.push(`${where}: not valid JSON`);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`${where}: expected a JSON object`);
      return;
    }
    const item = read(value as Record<string, unknown>, where, problems);
    if (!item) {
      return;
    }
    if (seen.has(item.id)) {
      problems.push(`${where}: duplicate id ${JSON.stringify(item.id)}`);
      return;
    }
    seen.add(item.id);
    out.push(item);
  });
  if (problems.length > 0) {
    const shown = problems.slice(0, 20);
    const more = problems.length - shown.length;
    throw new OperationOutcomeError({
      resourceType: 'OperationOutcome',
      issue: [
        ...shown.map((p) => ({ severity: 'error' as const, code: 'invalid' as const, details: { text: p } })),
        ...(more > 0
          ? [{ severity: 'error' as const, code: 'invalid' as const, details: { text: `and ${more} more` } }]
          : []),
      ],
    });
  }
  return out;
}

function stringField(
  value: Record<string, unknown>,
  name: string,
  where: string,
  problems: string[],
  required: boolean
): string | undefined {
  const v = value[name];
  if (typeof v === 'number' && name === 'id') {
    return String(v);
  }
  if (typeof v === 'string' && (v.trim() !== '' || !required)) {
    return v;
  }
  if (v === undefined && !required) {
    return undefined;
  }
  problems.push(`${where}: "${name}" must be ${required ? 'a non-empty string' : 'a string'}`);
  return undefined;
}
