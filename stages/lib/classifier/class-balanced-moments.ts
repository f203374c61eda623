// The statistics AdaBN should take from one lab's unlabelled cells when the lab's class mix is not the
// training labs'. Plain AdaBN standardises by the lab's mean, and a lab of mostly neutrophils (BCCD) has
// a mean near the neutrophils', so after standardisation its neutrophils sit where the training data had
// the average cell: the head calls many of them something else. Weighting each class equally — by the
// model's own predicted probabilities, since the labels are unknown — gives the mean and variance the lab
// would have with every class equally common, as the study's training labs roughly are.

export interface Moments {
  mean: Float32Array;
  variance: Float32Array;
}

/** Plain per-feature mean and (population) variance of the n rows of `x` ([n, dim], row-major). */
export function rowMoments(x: Float32Array, dim: number): Moments {
  const n = x.length / dim;
  const mean = new Float32Array(dim);
  const variance = new Float32Array(dim);
  if (n === 0) return { mean, variance };
  const sum = new Float64Array(dim);
  const squares = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      const v = x[i * dim + d]!;
      sum[d]! += v;
      squares[d]! += v * v;
    }
  }
  for (let d = 0; d < dim; d++) {
    mean[d] = sum[d]! / n;
    variance[d] = Math.max(0, squares[d]! / n - (sum[d]! / n) ** 2);
  }
  return { mean, variance };
}

/**
 * Per-feature mean and variance of the rows of `x` as if each class were equally common: every row counts
 * towards class c with weight `probabilities[i][c]`, each class's first and second moments are taken,
 * and the classes are averaged with equal weight. A class the rows carry less than `minWeight` of in all
 * (the lab may have none of it) is left out of the average. Falls back to the plain moments when no
 * class has enough weight.
 */
export function classBalancedMoments(x: Float32Array, dim: number, probabilities: readonly (readonly number[])[], minWeight = 1): Moments {
  const n = x.length / dim;
  if (probabilities.length !== n) throw new Error(`classBalancedMoments: ${n} rows but ${probabilities.length} probability rows`);
  const classes = probabilities[0]?.length ?? 0;
  const weight = new Float64Array(classes);
  const sum = Array.from({ length: classes }, () => new Float64Array(dim));
  const squares = Array.from({ length: classes }, () => new Float64Array(dim));
  for (let i = 0; i < n; i++) {
    const p = probabilities[i]!;
    for (let c = 0; c < classes; c++) {
      const w = p[c]!;
      if (w === 0) continue;
      weight[c]! += w;
      const s = sum[c]!;
      const q = squares[c]!;
      for (let d = 0; d < dim; d++) {
        const v = x[i * dim + d]!;
        s[d]! += w * v;
        q[d]! += w * v * v;
      }
    }
  }
  const kept = [...weight.keys()].filter((c) => weight[c]! >= minWeight);
  if (kept.length === 0) return rowMoments(x, dim);
  const mean = new Float32Array(dim);
  const variance = new Float32Array(dim);
  for (let d = 0; d < dim; d++) {
    let m = 0;
    let m2 = 0;
    for (const c of kept) {
      m += sum[c]![d]! / weight[c]!;
      m2 += squares[c]![d]! / weight[c]!;
    }
    m /= kept.length;
    m2 /= kept.length;
    mean[d] = m;
    variance[d] = Math.max(0, m2 - m * m);
  }
  return { mean, variance };
}
