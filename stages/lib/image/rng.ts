// Seeded random numbers: the same key always gives the same stream, on every machine.
import { createHash } from 'node:crypto';

export type Random = () => number;

/** 32-bit seed from any string (first 4 bytes of its sha256). */
export function seedFrom(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32LE(0);
}

/** Mulberry32: small, fast, good enough for augmentation draws; returns numbers in [0, 1). */
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

export function randomFor(key: string): Random {
  return mulberry32(seedFrom(key));
}

/** Uniform in [lo, hi). */
export function uniform(rng: Random, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** A deterministic number in [0, 1) for a key (used to place a group in a split). */
export function unitHash(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) / 4294967296;
}
