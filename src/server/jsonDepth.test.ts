import { exceedsJsonDepth } from './jsonDepth';

describe('exceedsJsonDepth', () => {
  const deep = (n: number): Buffer => Buffer.from('['.repeat(n) + ']'.repeat(n));

  test('counts objects and arrays, up to the limit inclusive', () => {
    expect(exceedsJsonDepth(deep(100), 100)).toBe(false);
    expect(exceedsJsonDepth(deep(101), 100)).toBe(true);
    expect(exceedsJsonDepth(Buffer.from('{"a":{"b":[{}]}}'), 3)).toBe(true);
    expect(exceedsJsonDepth(Buffer.from('{"a":{"b":[{}]}}'), 4)).toBe(false);
  });

  test('ignores brackets inside strings, escaped quotes included', () => {
    expect(exceedsJsonDepth(Buffer.from(`{"a":"${'['.repeat(500)}"}`), 2)).toBe(false);
    expect(exceedsJsonDepth(Buffer.from(`{"a":"\\"${'{'.repeat(500)}"}`), 2)).toBe(false);
  });

  test('scans a 100k-deep body without recursion', () => {
    expect(exceedsJsonDepth(deep(100_000), 100)).toBe(true);
  });
});
