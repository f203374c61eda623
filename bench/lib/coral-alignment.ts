// CORAL at test time (Sun, Feng & Saenko 2016, applied the other way round): one lab's unlabelled feature
// vectors are whitened by their own covariance and re-coloured with the training labs' covariance, so a
// head fitted on the training labs sees second-order statistics it knows. AdaBN matches each feature's mean
// and variance only; this matches the correlations between features too.
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** Mean and covariance (with `shrinkage` × mean variance added to the diagonal) of an [n, dim] matrix. */
function moments(x: Float32Array, dim: number, shrinkage: number): { mean: Float64Array; covariance: Matrix } {
  const n = x.length / dim;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d]! += x[i * dim + d]! / n;
  const centred = new Matrix(n, dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) centred.set(i, d, x[i * dim + d]! - mean[d]!);
  const covariance = centred.transpose().mmul(centred).div(Math.max(1, n - 1));
  let trace = 0;
  for (let d = 0; d < dim; d++) trace += covariance.get(d, d);
  const ridge = (shrinkage * trace) / dim;
  for (let d = 0; d < dim; d++) covariance.set(d, d, covariance.get(d, d) + ridge);
  return { mean, covariance };
}

/** S^p of a symmetric positive-definite matrix through its eigendecomposition. */
function symmetricPower(s: Matrix, p: number): Matrix {
  const e = new EigenvalueDecomposition(s, { assumeSymmetric: true });
  const u = e.eigenvectorMatrix;
  const scaled = u.clone();
  e.realEigenvalues.forEach((v, j) => {
    const f = Math.max(v, 1e-12) ** p;
    for (let i = 0; i < scaled.rows; i++) scaled.set(i, j, scaled.get(i, j) * f);
  });
  return scaled.mmul(u.transpose());
}

/** `target`'s rows moved to the mean and covariance of `source`'s rows (both [n, dim]). */
export function coralAlign(source: Float32Array, target: Float32Array, dim: number, shrinkage = 1): Float32Array {
  const s = moments(source, dim, shrinkage);
  const t = moments(target, dim, shrinkage);
  const w = symmetricPower(t.covariance, -0.5).mmul(symmetricPower(s.covariance, 0.5));
  const n = target.length / dim;
  const centred = new Matrix(n, dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) centred.set(i, d, target[i * dim + d]! - t.mean[d]!);
  const moved = centred.mmul(w);
  const out = new Float32Array(target.length);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) out[i * dim + d] = moved.get(i, d) + s.mean[d]!;
  return out;
}
