import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import { SIMD_WASM_BASE64 } from "./_simd_wasm.ts";
import {
  adamUpdate,
  adamUpdateAll,
  axpy,
  batchNormGrad,
  batchNormTrain,
  bceWithGrad,
  columnSum,
  layerNorm,
  layerNormGrad,
  leakyReluGrad,
  linearBatch,
  linearBatchGradInput,
  linearBatchGradWeight,
  matVec,
  matVecT,
  mseWithGrad,
  outer,
  sigmoidGrad,
  simdActive,
} from "./simd.ts";
import { assemble, render } from "../../scripts/build_simd.ts";

await tf.setBackend("wasm");

// Sizes with a tail that is not a multiple of 4 or 8, as well as the book's.
const SHAPES: [number, number][] = [[3, 5], [10, 200], [200, 784], [7, 13]];

function rnd(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 1073741824 - 1;
  });
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5): void {
  assert.equal(got.length, want.length);
  let scale = 1e-6;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= tol * scale, `element ${i}: ${got[i]} vs ${want[i]}`);
  }
}

Deno.test("lib/backends/_simd_wasm.ts is up to date with lib/backends/simd.wat", async () => {
  const wat = await Deno.readTextFile(new URL("./simd.wat", import.meta.url));
  const fresh = render(await assemble(wat));
  const current = await Deno.readTextFile(new URL("./_simd_wasm.ts", import.meta.url));
  assert.equal(current, fresh, "run `deno task build:simd`");
  assert.ok(SIMD_WASM_BASE64.length > 100);
});

Deno.test("simdActive() is true on the wasm backend", () => {
  assert.ok(simdActive());
});

for (const [rows, cols] of SHAPES) {
  Deno.test(`matVec(), matVecT() and outer() match float64 loops for ${rows}x${cols}`, () => {
    const Wd = rnd(rows * cols, 1), xd = rnd(cols, 2), bd = rnd(rows, 3), dd = rnd(rows, 4);
    const accd = rnd(rows * cols, 5);
    const W = tf.tensor2d(Wd, [rows, cols]), x = tf.tensor1d(xd), b = tf.tensor1d(bd);
    const d = tf.tensor1d(dd), acc = tf.tensor2d(accd, [rows, cols]);
    const before = tf.memory().numTensors;
    const y = matVec(W, x, b), yNoBias = matVec(W, x), t = matVecT(W, d);
    const G = outer(d, x), G2 = outer(d, x, acc);
    const wantY = Array.from({ length: rows }, (_, r) => {
      let s = 0;
      for (let c = 0; c < cols; c++) s += Wd[r * cols + c] * xd[c];
      return s;
    });
    close(y.dataSync(), wantY.map((v, r) => v + bd[r]));
    close(yNoBias.dataSync(), wantY);
    close(
      t.dataSync(),
      Array.from({ length: cols }, (_, c) => {
        let s = 0;
        for (let r = 0; r < rows; r++) s += dd[r] * Wd[r * cols + c];
        return s;
      }),
    );
    const wantG = Array.from(
      { length: rows * cols },
      (_, i) => dd[Math.floor(i / cols)] * xd[i % cols],
    );
    close(G.dataSync(), wantG);
    close(G2.dataSync(), wantG.map((v, i) => v + accd[i]));
    assert.deepEqual(G.shape, [rows, cols]);
    tf.dispose([y, yNoBias, t, G, G2]);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([W, x, b, d, acc]);
  });
}

Deno.test("axpy() and adamUpdate() match the scalar formulas; Adam updates its moments in place", () => {
  const n = 1001;
  const p = rnd(n, 7), g = rnd(n, 8), m = rnd(n, 9), v = rnd(n, 10).map(Math.abs);
  const [b1, b2, a, e] = [0.9, 0.999, 1e-3, 1e-8];
  const tp = tf.tensor1d(p), tg = tf.tensor1d(g), tm = tf.tensor1d(m), tv = tf.tensor1d(v);
  close(axpy(tp, tg, -0.01).dataSync(), Array.from(p, (pi, i) => pi - 0.01 * g[i]));
  const [p2, m2, v2] = adamUpdate(tp, tg, { m: tm, v: tv, b1, b2, a, e });
  const wm = Array.from(m, (mi, i) => b1 * mi + (1 - b1) * g[i]);
  const wv = Array.from(v, (vi, i) => b2 * vi + (1 - b2) * g[i] * g[i]);
  close(m2.dataSync(), wm);
  close(v2.dataSync(), wv);
  close(p2.dataSync(), Array.from(p, (pi, i) => pi - a * wm[i] / (Math.sqrt(wv[i]) + e)), 1e-6);
  close(tp.dataSync(), p, 0);
  // The moments are the optimiser's own: updated in place, returned as the same tensors.
  assert.equal(m2, tm);
  assert.equal(v2, tv);
});

Deno.test("adamUpdateAll() is adamUpdate() per parameter, on wasm and on cpu", async () => {
  const sizes = [1001, 3, 200];
  const state = { b1: 0.5, b2: 0.999, a: 1e-3, e: 1e-8 };
  for (const backend of ["wasm", "cpu"]) {
    await tf.setBackend(backend);
    const make = () => sizes.map((n, j) => [7, 8, 9, 10].map((s) => tf.tensor1d(rnd(n, s + j))));
    const one = make(), all = make();
    for (const x of [...one, ...all]) x[3] = tf.abs(x[3]);
    const want = one.map(([p, g, m, v]) => adamUpdate(p, g, { m, v, ...state }));
    const ms = all.map((x) => x[2]), vs = all.map((x) => x[3]);
    const got = adamUpdateAll(all.map((x) => x[0]), all.map((x) => x[1]), { ms, vs, ...state });
    want.forEach(([p2, m2, v2], j) => {
      close(got[j].dataSync(), p2.dataSync(), 0);
      close(ms[j].dataSync(), m2.dataSync(), 0);
      close(vs[j].dataSync(), v2.dataSync(), 0);
    });
    // wasm updates the moments in place; cpu returns new ones, replaced in the arrays.
    assert.equal(ms[0] === all[0][2], backend === "wasm");
    tf.dispose([...one.flat(), ...all.flat(), ...want.flat(), ...got, ...ms, ...vs]);
  }
  await tf.setBackend("wasm");
});

Deno.test("matVec() has a gradient under TF.js autodiff", () => {
  const W = tf.tensor2d([[1, 2], [3, 4]]), x = tf.tensor1d([1, -1]);
  const [gW, gx] = tf.grads((w: tf.Tensor, xx: tf.Tensor) =>
    tf.sum(matVec(w as tf.Tensor2D, xx as tf.Tensor1D))
  )([W, x]);
  assert.deepEqual(Array.from(gW.dataSync()), [1, -1, 1, -1]);
  assert.deepEqual(Array.from(gx.dataSync()), [4, 6]);
});

Deno.test("fused loss and activation kernels on wasm match the TF.js ops on cpu", async () => {
  const y = [0.9, 0.1, 0.5, 0, 1, 0.3], t = [1, 1, 0, 1, 0, 0.5], x = [-2, -0.5, 0, 0.25, 3, -7];
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const [ty, tt, tx] = [tf.tensor1d(y), tf.tensor1d(t), tf.tensor1d(x)];
      const [bl, bg] = bceWithGrad(ty, tt);
      const [ml, mg] = mseWithGrad(ty, tt);
      const w = tf.tensor1d([1, 2, 0.5, -1, 3, 0.1]), b = tf.tensor1d([0, 1, 0, -1, 0, 2]);
      const [ln, xhat, rstd] = layerNorm(tx.reshape([2, 3]), w.slice(0, 3), b.slice(0, 3), 1e-5);
      const [dx, dw, db] = layerNormGrad(tty(ty), xhat, rstd, w.slice(0, 3));
      // BatchNorm over a [2, 3, 2, 2] NHWC batch: 12 rows of 2 channels.
      const bx = tf.tensor4d(Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7) * 3), [
        2,
        3,
        2,
        2,
      ]);
      const bdy = tf.tensor4d(Array.from({ length: 24 }, (_, i) => Math.cos(i)), [2, 3, 2, 2]);
      const [by, bh, br, brm, brv] = batchNormTrain(
        bx,
        w.slice(0, 2),
        b.slice(0, 2),
        w.slice(2, 2),
        w.slice(4, 2),
        {
          eps: 1e-5,
          momentum: 0.1,
        },
      );
      const [bdx, bdw, bdb] = batchNormGrad(bdy, bh, br, w.slice(0, 2));
      return [
        bl,
        bg,
        ml,
        mg,
        sigmoidGrad(ty, tx),
        leakyReluGrad(tx, ty, 0.02),
        ln,
        dx,
        dw,
        db,
        by,
        brm,
        brv,
        bdx,
        bdw,
        bdb,
      ].map((r) => Array.from(r.dataSync()));
    });
  };
  const tty = (v: tf.Tensor) => v.reshape([2, 3]);
  const wasm = await run("wasm");
  const cpu = await run("cpu");
  await tf.setBackend("wasm");
  wasm.forEach((got, i) => close(got, cpu[i], 1e-5));
  // BCE clamps: y = 0 with t = 1 and y = 1 with t = 0 cost 100 each, never Infinity.
  assert.ok(Number.isFinite(wasm[0][0]) && wasm[1].every(Number.isFinite));
});

Deno.test("adamUpdate() flushes subnormal moments to zero instead of computing with them", () => {
  const p = tf.tensor1d([1, 1, 1, 1, 1]), g = tf.tensor1d([0, 0, 0, 0, 1e-3]);
  // 1e-38 * 0.9 is subnormal; 1e-30 * 0.9 is not.
  const m = tf.tensor1d([1e-38, -1e-38, 1e-30, 0, 0]), v = tf.tensor1d([1e-38, 0, 1e-30, 0, 0]);
  adamUpdate(p, g, { m, v, b1: 0.9, b2: 0.999, a: 1e-3, e: 1e-8 });
  const md = m.dataSync(), vd = v.dataSync();
  assert.deepEqual([md[0], md[1], vd[0]], [0, 0, 0]);
  assert.ok(Math.abs(md[2] - 0.9e-30) < 1e-36 && Math.abs(vd[2] - 0.999e-30) < 1e-36);
  assert.ok(md[4] > 0 && vd[4] > 0);
});

Deno.test("linearBatch() and its gradients match TF.js matMuls on tiled and edge shapes", () => {
  // [batch, in, out]: full tiles, clamped edge tiles (batch, rows or columns not a multiple
  // of the tile), and shapes the tiles cannot take (1 sample, 1-3 rows, width not 4k).
  const shapes = [[1, 13, 7], [3, 13, 7], [2, 12, 4], [5, 20, 6], [8, 16, 8], [7, 100, 9]];
  shapes.push([40, 13, 7], [33, 36, 1], [64, 200, 10], [6, 8, 3], [4, 28, 4]);
  for (const [n, cin, cout] of shapes) {
    tf.tidy(() => {
      const x = tf.tensor2d(rnd(n * cin, n), [n, cin]);
      const W = tf.tensor2d(rnd(cout * cin, cin), [cout, cin]);
      const b = tf.tensor1d(rnd(cout, 3)), d = tf.tensor2d(rnd(n * cout, 4), [n, cout]);
      close(linearBatch(x, W, b).dataSync(), tf.add(tf.matMul(x, W, false, true), b).dataSync());
      close(linearBatch(x, W).dataSync(), tf.matMul(x, W, false, true).dataSync());
      close(linearBatchGradInput(d, W).dataSync(), tf.matMul(d, W).dataSync());
      close(linearBatchGradWeight(d, x).dataSync(), tf.matMul(d, x, true, false).dataSync());
      close(columnSum(d).dataSync(), tf.sum(d, 0).dataSync());
    });
  }
});
