// Otsu's threshold over a 256-bin histogram, so it adapts to each image's stain intensity.

export interface OtsuResult {
  /** Values > threshold are the upper class. */
  threshold: number;
  /** Between-class variance / total variance, 0..1: how cleanly the histogram splits in two. */
  separability: number;
}

export function histogram(values: Uint8Array, where?: Uint8Array): Float64Array {
  const h = new Float64Array(256);
  for (let i = 0; i < values.length; i++) if (!where || where[i]) h[values[i]!]! += 1;
  return h;
}

export function otsu(hist: Float64Array): OtsuResult {
  let total = 0, sum = 0;
  for (let i = 0; i < 256; i++) {
    total += hist[i]!;
    sum += i * hist[i]!;
  }
  if (total === 0) return { threshold: 128, separability: 0 };
  const mean = sum / total;
  let variance = 0;
  for (let i = 0; i < 256; i++) variance += hist[i]! * (i - mean) ** 2;
  variance /= total;
  let w0 = 0, sum0 = 0, best = -1, bestT = 0;
  for (let t = 0; t < 255; t++) {
    w0 += hist[t]!;
    sum0 += t * hist[t]!;
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const m0 = sum0 / w0, m1 = (sum - sum0) / w1;
    const between = (w0 / total) * (w1 / total) * (m0 - m1) ** 2;
    if (between > best) {
      best = between;
      bestT = t;
    }
  }
  return { threshold: bestT, separability: variance > 0 ? Math.max(0, best) / variance : 0 };
}

/** Three-class Otsu: the two thresholds maximising between-class variance (values > high = top class). */
export function otsu3(hist: Float64Array): { low: number; high: number; separability: number } {
  const p = new Float64Array(257), s = new Float64Array(257);
  for (let i = 0; i < 256; i++) {
    p[i + 1] = p[i]! + hist[i]!;
    s[i + 1] = s[i]! + i * hist[i]!;
  }
  const total = p[256]!, sum = s[256]!;
  if (total === 0) return { low: 85, high: 170, separability: 0 };
  const mean = sum / total;
  let variance = 0;
  for (let i = 0; i < 256; i++) variance += hist[i]! * (i - mean) ** 2;
  const term = (a: number, b: number) => {
    const w = p[b]! - p[a]!;
    return w > 0 ? (s[b]! - s[a]!) ** 2 / w : 0;
  };
  let best = -1, lo = 0, hi = 0;
  for (let t1 = 1; t1 < 255; t1++) {
    const a = term(0, t1);
    for (let t2 = t1 + 1; t2 < 256; t2++) {
      const v = a + term(t1, t2) + term(t2, 256);
      if (v > best) {
        best = v;
        lo = t1 - 1;
        hi = t2 - 1;
      }
    }
  }
  const between = best - (sum * sum) / total;
  return { low: lo, high: hi, separability: variance > 0 ? Math.max(0, between) / variance : 0 };
}
