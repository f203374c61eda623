// The stages' seeded randomness: one generator (mulberry32) and the two ways a key becomes a seed. Both
// seed functions stay, under names that say which they are: published bytes depend on each (augment's
// variant draws and the splits on sha256, the photometric and simulated-shift draws on FNV-1a), so
// merging them would change every result.
import { createHash } from 'node:crypto';

export type Random = () => number;

/** Mulberry32: small, fast, good enough for augmentation draws and shuffles; numbers in [0, 1). */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 32-bit seed from any string: the first 4 bytes (little-endian) of its sha256. */
export function sha256Seed(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32LE(0);
}

/** 32-bit seed from a string and a number (FNV-1a), e.g. an item's name and a variant index. */
export function fnv1aSeed(text: string, salt = 0): number {
  let h = 0x811c9dc5 ^ salt;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The generator for a key (sha256 seed): the same key always gives the same stream, on every machine. */
export function randomFor(key: string): Random {
  return mulberry32(sha256Seed(key));
}

/** Uniform in [lo, hi). */
export function uniform(rng: Random, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** A deterministic number in [0, 1) for a key (used to place a group in a split). */
export function unitHash(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) / 4294967296;
}
