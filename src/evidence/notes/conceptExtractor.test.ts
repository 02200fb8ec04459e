import { OperationOutcomeError } from '@medplum/core';
import type { DocumentReference } from '@medplum/fhirtypes';
import { extractConcepts, type ExtractedConcept } from './conceptExtractor';
import { noteText } from './noteText';

function summary(text: string): string[] {
  return extractConcepts(text).map(
    (c: ExtractedConcept) =>
      `${c.key}${c.negated ? ' negated' : ''}${c.uncertain ? ' uncertain' : ''}${c.historical ? ' historical' : ''}`
  );
}

function note(data: Buffer, contentType?: string): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    content: [{ attachment: { contentType, data: data.toString('base64') } }],
  };
}

describe('concepts in clinical notes', () => {
  test('negation: "no effusion", "denies chest pain or palpitations"', () => {
    expect(summary('Knee: no effusion.')).toEqual(['knee', 'effusion negated']);
    expect(summary('Denies chest pain or palpitations.')).toEqual(['chest-pain negated', 'palpitations negated']);
  });

  test('a negation stops at "but": "no instability but swollen knee"', () => {
    expect(summary('No instability but swollen knee.')).toEqual(['instability negated', 'swelling', 'knee']);
  });

  test('a negation does not cross into the next sentence', () => {
    expect(summary('No fever. Ankle sprain yesterday.')).toEqual(['fever negated', 'ankle-sprain']);
  });

  test('backward negation: "fracture was ruled out"', () => {
    expect(summary('Fracture was ruled out on X-ray.')).toEqual(['fracture negated']);
  });

  test('uncertainty: "rule out fracture", "? DVT", "head injury?"', () => {
    expect(summary('Rule out fracture.')).toEqual(['fracture uncertain']);
    expect(summary('Calf tender, ? DVT')).toEqual(['dvt uncertain']);
    expect(summary('Fell playing rugby, concussion? Headache since.')).toEqual(['concussion uncertain', 'headache']);
  });

  test('history vs current: "history of low back pain", current ACL reconstruction', () => {
    expect(summary('History of low back pain. Now 3 weeks after ACL reconstruction.')).toEqual([
      'low-back-pain historical',
      'acl-reconstruction',
    ]);
  });

  test('lemmas: inflected words match ("sprained ankles" is not needed verbatim)', () => {
    expect(summary('She had knee replacements on both sides.').map((s) => s.split(' ')[0])).toContain(
      'knee-replacement'
    );
    expect(summary('Sprained ankle while running.')).toContain('ankle-sprain');
  });

  test('indications come with the concept', () => {
    const [c] = extractConcepts('Total knee arthroplasty on Monday.');
    expect(c?.indications).toEqual(['total-knee-replacement']);
  });

  test('an empty or blank note gives no concepts and no error', () => {
    expect(extractConcepts('')).toEqual([]);
    expect(extractConcepts('   \n ')).toEqual([]);
    expect(noteText({ resourceType: 'DocumentReference', status: 'current', content: [] }).text).toBe('');
  });
});

describe('note text from a DocumentReference', () => {
  const text = 'Pain 3/10, café visit, no effusion';

  test('UTF-8 base64, with and without a charset', () => {
    expect(noteText(note(Buffer.from(text, 'utf8'), 'text/plain; charset=utf-8')).text).toBe(text);
    expect(noteText(note(Buffer.from(text, 'utf8'))).text).toBe(text);
  });

  test('UTF-16LE with a byte-order mark', () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    expect(noteText(note(bytes, 'text/plain')).text).toBe(text);
  });

  test('declared latin-1 is honoured', () => {
    expect(noteText(note(Buffer.from(text, 'latin1'), 'text/plain; charset=iso-8859-1')).text).toBe(text);
  });

  test('undeclared non-UTF-8 bytes are read as windows-1252 with a warning, not replacement characters', () => {
    const read = noteText(note(Buffer.from(text, 'latin1'), 'text/plain'));
    expect(read.text).toBe(text);
    expect(read.issues).toEqual([expect.objectContaining({ severity: 'warning', code: 'value' })]);
    expect(JSON.stringify(read.issues)).not.toContain('effusion');
  });

  test('bytes that are not valid in the declared charset are refused with the path', () => {
    const bad = note(Buffer.from([0xc3, 0x28]), 'text/plain; charset=utf-8');
    expect(() => noteText(bad)).toThrow(OperationOutcomeError);
    try {
      noteText(bad);
    } catch (err) {
      expect((err as OperationOutcomeError).outcome.issue?.[0]?.expression).toEqual([
        'DocumentReference.content[0].attachment.data',
      ]);
    }
  });

  test('a PDF or an unknown charset is refused, not read as nothing', () => {
    expect(() => noteText(note(Buffer.from('%PDF-1.4'), 'application/pdf'))).toThrow(/not text/);
    expect(() => noteText(note(Buffer.from(text), 'text/plain; charset=klingon'))).toThrow(/Unknown charset/);
  });
});
