import { internalFault } from '../fhir/outcomes';
/**
 * Seeded pseudo-random numbers for the synthetic cohort. The generator never touches Math.random: every draw comes
 * from a Prng passed in, so a seed reproduces the cohort bit for bit. Algorithm: sfc32 (Small Fast Counter,
 * PractRand-tested, 128-bit state) seeded through a 32-bit string hash; fast enough for millions of draws a second.
 */
export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Normal(mean, sd) via Box-Muller. */
  normal(mean: number, sd: number): number;
  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
}

/** 32-bit hash of a string (cyrb-style mixing); used only to derive seeds, not for security. */
export function hashSeed(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h1 ^ h2) >>> 0;
}

/** A Prng for (seed, stream name): independent streams per patient keep patient i identical whatever N is. */
export function createPrng(seed: number | string, stream = ''): Prng {
  let a = hashSeed(`${seed}#a#${stream}`);
  let b = hashSeed(`${seed}#b#${stream}`);
  let c = hashSeed(`${seed}#c#${stream}`);
  let d = 1;
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (a + b + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) {
    next();
  }
  let spare: number | undefined;
  const standardNormal = (): number => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    let u = next();
    while (u === 0) {
      u = next();
    }
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  return {
    next,
    normal: (mean, sd) => mean + sd * standardNormal(),
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) {
        throw internalFault('pick from an empty list');
      }
      return items[Math.floor(next() * items.length)];
    },
  };
}
