import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Attachment, DocumentReference, OperationOutcomeIssue } from '@medplum/fhirtypes';

export interface NoteText {
  readonly text: string;
  /** Warnings about how the text was read (an undeclared legacy encoding...); never the text itself. */
  readonly issues: OperationOutcomeIssue[];
}

/**
 * The plain text of a clinical note (DocumentReference.content.attachment, FHIR R4 datatypes.html#Attachment:
 * `data` is base64, `contentType` carries the MIME type and optionally its charset).
 *
 * Encodings, in order: a byte-order mark (UTF-8, UTF-16LE/BE) wins; then the declared `charset`; then UTF-8. Bytes
 * that are not valid UTF-8 with no charset declared are read as windows-1252 (what legacy Western EHR exports
 * produce) with a warning, so "café" or "½" do not become replacement characters silently. A non-text content type
 * (a PDF, an image) is refused: this engine reads text, and saying so beats matching on nothing.
 */
export function noteText(document: DocumentReference): NoteText {
  const issues: OperationOutcomeIssue[] = [];
  const texts: string[] = [];
  for (const [i, content] of (document.content ?? []).entries()) {
    const read = attachmentText(content.attachment, `DocumentReference.content[${i}].attachment`, issues);
    if (read !== undefined) {
      texts.push(read);
    }
  }
  return { text: texts.join('\n\n'), issues };
}

function attachmentText(attachment: Attachment, path: string, issues: OperationOutcomeIssue[]): string | undefined {
  const [mime, ...params] = (attachment.contentType ?? 'text/plain').split(';').map((p) => p.trim().toLowerCase());
  if (!mime?.startsWith('text/')) {
    throw new OperationOutcomeError(
      badRequest(
        `Note content type ${mime ?? '(none)'} is not text; only text/* notes can be read`,
        `${path}.contentType`
      )
    );
  }
  if (attachment.data === undefined) {
    if (attachment.url) {
      issues.push({
        severity: 'warning',
        code: 'not-supported',
        details: { text: 'Note content given by URL only was not fetched' },
        expression: [`${path}.url`],
      });
    }
    return undefined;
  }
  if (!/^[A-Za-z0-9+/=\s]*$/.test(attachment.data)) {
    throw new OperationOutcomeError(badRequest('Note data is not base64', `${path}.data`));
  }
  const bytes = Buffer.from(attachment.data, 'base64');
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  return decode(bytes, charset, path, issues);
}

function decode(bytes: Uint8Array, charset: string | undefined, path: string, issues: OperationOutcomeIssue[]): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return new TextDecoder('utf-8').decode(bytes.subarray(3));
  }
  if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  }
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  }
  if (charset) {
    let decoder: InstanceType<typeof TextDecoder>;
    try {
      decoder = new TextDecoder(charset, { fatal: true });
    } catch {
      throw new OperationOutcomeError(badRequest(`Unknown charset ${charset}`, `${path}.contentType`));
    }
    try {
      return decoder.decode(bytes);
    } catch {
      throw new OperationOutcomeError(badRequest(`Note bytes are not valid ${charset}`, `${path}.data`));
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    issues.push({
      severity: 'warning',
      code: 'value',
      details: { text: 'Note is not valid UTF-8 and declares no charset; read as windows-1252' },
      expression: [`${path}.data`],
    });
    return new TextDecoder('windows-1252').decode(bytes);
  }
}
