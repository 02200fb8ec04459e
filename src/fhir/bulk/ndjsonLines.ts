/** One line of an NDJSON body, numbered from 1 as an editor would show it. */
export interface NumberedLine {
  readonly line: number;
  readonly text: string;
}

/**
 * Splits a byte stream into lines as it arrives, so a file of any size is read with memory for one line
 * (ndjson.org: lines end with \n; a \r before it is dropped). Empty lines are skipped but counted.
 */
export async function* ndjsonLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<NumberedLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = '';
  let line = 0;
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n', start)) {
      line++;
      const text = pending.slice(start, newline).replace(/\r$/, '');
      start = newline + 1;
      if (text.trim() !== '') {
        yield { line, text };
      }
    }
    pending = pending.slice(start);
  }
  pending += decoder.decode();
  if (pending.trim() !== '') {
    yield { line: line + 1, text: pending.replace(/\r$/, '') };
  }
}
