import assert from "node:assert/strict";
import {
  argmaxRows,
  meanAndCovariance,
  sqrtmSymmetric,
  symmetricEigen,
  traceSqrtProduct,
} from "./linalg.ts";

const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

Deno.test("symmetricEigen() reconstructs a symmetric matrix", () => {
  const a = [4, 1, 2, 1, 3, 0, 2, 0, 5];
  const { values, vectors: V } = symmetricEigen(a, 3);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += V[i * 3 + k] * values[k] * V[j * 3 + k];
      close(s, a[i * 3 + j], 1e-10);
    }
  }
  close(values.reduce((x, y) => x + y, 0), 12, 1e-12);
});

Deno.test("sqrtmSymmetric() squares back to the matrix", () => {
  const a = [2, 1, 1, 2];
  const s = sqrtmSymmetric(a, 2);
  close(s[0] * s[0] + s[1] * s[2], 2, 1e-10);
  close(s[0] * s[1] + s[1] * s[3], 1, 1e-10);
  // Known closed form: sqrt([[2,1],[1,2]]) = [[(sqrt3+1)/2, (sqrt3-1)/2], ...].
  close(s[0], (Math.sqrt(3) + 1) / 2, 1e-10);
  close(s[1], (Math.sqrt(3) - 1) / 2, 1e-10);
});

Deno.test("traceSqrtProduct() matches known matrices", () => {
  // Diagonal: Tr sqrt(diag(1,4,9) diag(4,1,16)) = 2 + 2 + 12.
  const c1 = [1, 0, 0, 0, 4, 0, 0, 0, 9], c2 = [4, 0, 0, 0, 1, 0, 0, 0, 16];
  close(traceSqrtProduct(c1, c2, 3), 16, 1e-10);
  // Same matrix: Tr sqrt(C^2) = Tr C.
  const c = [2, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 1];
  close(traceSqrtProduct(c, c, 3), 6, 1e-9);
  // Commuting: C and C^2 give Tr C^1.5 = sum of eigenvalues^1.5.
  const { values } = symmetricEigen(c, 3);
  const c2b = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 3; k++) c2b[i * 3 + j] += c[i * 3 + k] * c[k * 3 + j];
    }
  }
  close(traceSqrtProduct(c, c2b, 3), values.reduce((s, v) => s + v ** 1.5, 0), 1e-9);
});

Deno.test("meanAndCovariance() matches the n-1 sample covariance", () => {
  const { mean, cov } = meanAndCovariance([1, 2, 3, 6], 2, 2);
  assert.deepEqual(Array.from(mean), [2, 4]);
  assert.deepEqual(Array.from(cov), [2, 4, 4, 8]);
});

Deno.test("argmaxRows() picks each row's largest value, the first on ties", () => {
  assert.deepEqual(argmaxRows([0.1, 0.7, 0.2, 0.9, 0.05, 0.05, 0.3, 0.3, 0.3], 3), [1, 0, 0]);
  assert.deepEqual(argmaxRows(new Float32Array([-1, -2]), 2), [0]);
  assert.deepEqual(argmaxRows([], 10), []);
});
