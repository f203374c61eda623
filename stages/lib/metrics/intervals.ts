// Confidence intervals for a proportion: a seeded percentile bootstrap (works for any statistic)
// and the Wilson score interval (closed form, well behaved near 0 and 1 and for small n).
import { mulberry32 } from '../random.js';

export interface Interval {
  low: number;
  high: number;
  /** Coverage, e.g. 0.95. */
  level: number;
  method: 'bootstrap-percentile' | 'wilson';
  /** Bootstrap only: resamples drawn and the seed used. */
  resamples?: number;
  seed?: number;
}

/** Quantile of sorted values with linear interpolation between order statistics (R type 7). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('quantileSorted: empty sample');
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

export interface BootstrapOptions {
  resamples: number;
  seed: number;
  level?: number;
}

/**
 * Percentile bootstrap interval of `statistic` over `n` items: each resample draws n indices with
 * replacement and passes them to `statistic`. Null when n is 0.
 */
export function bootstrapInterval(
  n: number,
  statistic: (indices: Uint32Array) => number,
  { resamples, seed, level = 0.95 }: BootstrapOptions,
): Interval | null {
  if (!Number.isInteger(resamples) || resamples < 1) throw new Error(`bootstrap: resamples must be a positive integer, got ${resamples}`);
  if (n === 0) return null;
  const random = mulberry32(seed);
  const indices = new Uint32Array(n);
  const values: number[] = new Array(resamples);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) indices[i] = Math.floor(random() * n);
    values[r] = statistic(indices);
  }
  values.sort((a, b) => a - b);
  const alpha = (1 - level) / 2;
  return {
    low: quantileSorted(values, alpha),
    high: quantileSorted(values, 1 - alpha),
    level,
    method: 'bootstrap-percentile',
    resamples,
    seed,
  };
}

/** Percentile bootstrap interval of accuracy from per-item correctness. */
export function bootstrapAccuracy(correct: readonly boolean[], options: BootstrapOptions): Interval | null {
  const hits = Uint8Array.from(correct, (c) => (c ? 1 : 0));
  return bootstrapInterval(
    hits.length,
    (idx) => {
      let s = 0;
      for (let i = 0; i < idx.length; i++) s += hits[idx[i]!]!;
      return s / idx.length;
    },
    options,
  );
}

/** Two-sided standard normal quantile for the given coverage (Acklam's rational approximation). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
}

/** Wilson score interval for `successes` out of `n`; null when n is 0. */
export function wilsonInterval(successes: number, n: number, level = 0.95): Interval | null {
  if (n === 0) return null;
  if (successes < 0 || successes > n) throw new Error(`wilsonInterval: successes ${successes} outside 0..${n}`);
  const z = normalQuantile(1 - (1 - level) / 2);
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half), level, method: 'wilson' };
}
