/**
 * Small dense linear algebra in float64 on plain arrays (row-major), what the
 * Frechet distance needs: sample mean and covariance, symmetric eigenvalues by
 * cyclic Jacobi rotations, the matrix square root and Tr sqrt(C1 C2); and the argmax
 * of each row, which turns classifier outputs into digits.
 * @module
 */

/** Mean [d] and covariance [d*d] (divided by n - 1) of `n` rows of `d` values, in float64. */
export function meanAndCovariance(
  x: ArrayLike<number>,
  n: number,
  d: number,
): { mean: Float64Array; cov: Float64Array } {
  if (n < 2 || x.length !== n * d) {
    throw new Error(
      `meanAndCovariance needs at least 2 rows of ${d} values, got ${x.length} values for ${n} rows`,
    );
  }
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) mean[c] += x[r * d + c];
  for (let c = 0; c < d; c++) mean[c] /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < d; c++) row[c] = x[r * d + c] - mean[c];
    for (let i = 0; i < d; i++) {
      const ri = row[i];
      if (ri === 0) continue;
      const base = i * d;
      for (let j = i; j < d; j++) cov[base + j] += ri * row[j];
    }
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const v = cov[i * d + j] / (n - 1);
      cov[i * d + j] = v;
      cov[j * d + i] = v;
    }
  }
  return { mean, cov };
}

/**
 * Eigenvalues and eigenvectors of a symmetric n x n matrix (row-major) by
 * cyclic Jacobi rotations in float64: `a = V diag(values) V^T`, eigenvector
 * k is column k of `vectors`. The input is not changed.
 */
export function symmetricEigen(
  a: ArrayLike<number>,
  n: number,
  opts: { tolerance?: number; maxSweeps?: number } = {},
): { values: Float64Array; vectors: Float64Array } {
  if (a.length !== n * n) {
    throw new Error(`symmetricEigen needs ${n * n} values for a ${n}x${n} matrix, got ${a.length}`);
  }
  const A = Float64Array.from(a);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = 0.5 * (A[i * n + j] + A[j * n + i]);
      A[i * n + j] = s;
      A[j * n + i] = s;
    }
  }
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  const tol = opts.tolerance ?? 1e-12;
  const maxSweeps = opts.maxSweeps ?? 100;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += A[i] * A[i];
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += A[i * n + j] ** 2;
    if (off <= tol * tol * total || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        const app = A[p * n + p], aqq = A[q * n + q];
        // Rotation angle that zeroes A[p][q] (Golub & Van Loan, symmetric Schur).
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p], akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k], aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        A[p * n + q] = 0;
        A[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p], vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = A[i * n + i];
  return { values, vectors: V };
}

/** Square root of a symmetric positive semi-definite matrix (negative eigenvalues from rounding count as 0). */
export function sqrtmSymmetric(a: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors: V } = symmetricEigen(a, n);
  const root = values.map((v) => Math.sqrt(Math.max(v, 0)));
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += V[i * n + k] * root[k] * V[j * n + k];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

function matMul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j];
    }
  }
  return out;
}

/** Tr sqrt(C1 C2) for covariance matrices, computed as Tr sqrt(C1^1/2 C2 C1^1/2), which is symmetric. */
export function traceSqrtProduct(c1: ArrayLike<number>, c2: ArrayLike<number>, n: number): number {
  const s = sqrtmSymmetric(c1, n);
  const m = matMul(matMul(s, Float64Array.from(c2), n), s, n);
  const { values } = symmetricEigen(m, n);
  return values.reduce((acc, v) => acc + Math.sqrt(Math.max(v, 0)), 0);
}

/** Index of the largest value in each row of `values` (rows of `k`, flattened); the first on ties. */
export function argmaxRows(values: ArrayLike<number>, k: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < values.length / k; r++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (values[r * k + c] > values[r * k + best]) best = c;
    out.push(best);
  }
  return out;
}
