import { summaryOf } from './patientViewCards';

describe('CDS card summary', () => {
  test('stays under 140 characters, cut on a word', () => {
    const long = `Recovery twin proposes ${'a very long protocol title '.repeat(8)}: awaiting your review`;
    const summary = summaryOf(long);
    expect(summary.length).toBeLessThan(140);
    expect(summary.endsWith('…')).toBe(true);
    expect(summaryOf('short')).toBe('short');
  });
});
