;; Fused SIMD kernels for batch-1 training on TF.js's wasm backend.
;;
;; They run on the backend's own memory (imported), reading and writing tensor
;; buffers by byte offset, so no data is copied. Every kernel writes to a
;; fresh output buffer: tensors stay immutable, so XNNPACK's packed-weight
;; cache (keyed by tensor id) can never go stale.
;; Build: deno task build:simd (writes lib/backends/_simd_wasm.ts).
(module
  (import "env" "memory" (memory 1))

  ;; y[r] = sum_c W[r, c] * x[c] + (b ? b[r] : 0), W row-major [rows, cols]
  (func (export "matvec")
    (param $W i32) (param $x i32) (param $b i32) (param $y i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $row i32) (local $c8 i32)
    (local $acc0 v128) (local $acc1 v128) (local $s f32)
    (local.set $c8 (i32.and (local.get $cols) (i32.const -8)))
    (block $done
      (loop $rows_loop
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row
          (i32.add (local.get $W) (i32.shl (i32.mul (local.get $r) (local.get $cols)) (i32.const 2))))
        (local.set $acc0 (v128.const f32x4 0 0 0 0))
        (local.set $acc1 (v128.const f32x4 0 0 0 0))
        (local.set $c (i32.const 0))
        (block $d8
          (loop $l8
            (br_if $d8 (i32.ge_u (local.get $c) (local.get $c8)))
            (local.set $acc0
              (f32x4.add (local.get $acc0)
                (f32x4.mul
                  (v128.load (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2))))
                  (v128.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))))))
            (local.set $acc1
              (f32x4.add (local.get $acc1)
                (f32x4.mul
                  (v128.load offset=16 (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2))))
                  (v128.load offset=16 (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))))))
            (local.set $c (i32.add (local.get $c) (i32.const 8)))
            (br $l8)))
        (local.set $acc0 (f32x4.add (local.get $acc0) (local.get $acc1)))
        (local.set $s
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $acc0)) (f32x4.extract_lane 1 (local.get $acc0)))
            (f32.add (f32x4.extract_lane 2 (local.get $acc0)) (f32x4.extract_lane 3 (local.get $acc0)))))
        (block $d1
          (loop $l1
            (br_if $d1 (i32.ge_u (local.get $c) (local.get $cols)))
            (local.set $s
              (f32.add (local.get $s)
                (f32.mul
                  (f32.load (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2))))
                  (f32.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $l1)))
        (if (local.get $b)
          (then
            (local.set $s
              (f32.add (local.get $s)
                (f32.load (i32.add (local.get $b) (i32.shl (local.get $r) (i32.const 2))))))))
        (f32.store (i32.add (local.get $y) (i32.shl (local.get $r) (i32.const 2))) (local.get $s))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows_loop))))

  ;; y[c] = sum_r d[r] * W[r, c]   (W^T d, the input gradient of a linear layer)
  (func (export "matvec_t")
    (param $W i32) (param $d i32) (param $y i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $row i32) (local $c4 i32) (local $dr f32) (local $dv v128)
    (local.set $c4 (i32.and (local.get $cols) (i32.const -4)))
    (memory.fill (local.get $y) (i32.const 0) (i32.shl (local.get $cols) (i32.const 2)))
    (block $done
      (loop $rows_loop
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row
          (i32.add (local.get $W) (i32.shl (i32.mul (local.get $r) (local.get $cols)) (i32.const 2))))
        (local.set $dr (f32.load (i32.add (local.get $d) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $dv (f32x4.splat (local.get $dr)))
        (local.set $c (i32.const 0))
        (block $d4
          (loop $l4
            (br_if $d4 (i32.ge_u (local.get $c) (local.get $c4)))
            (v128.store (i32.add (local.get $y) (i32.shl (local.get $c) (i32.const 2)))
              (f32x4.add
                (v128.load (i32.add (local.get $y) (i32.shl (local.get $c) (i32.const 2))))
                (f32x4.mul (local.get $dv)
                  (v128.load (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2)))))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $l4)))
        (block $d1
          (loop $l1
            (br_if $d1 (i32.ge_u (local.get $c) (local.get $cols)))
            (f32.store (i32.add (local.get $y) (i32.shl (local.get $c) (i32.const 2)))
              (f32.add
                (f32.load (i32.add (local.get $y) (i32.shl (local.get $c) (i32.const 2))))
                (f32.mul (local.get $dr)
                  (f32.load (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2)))))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $l1)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows_loop))))

  ;; G[r, c] = u[r] * x[c] + (A ? A[r, c] : 0)   (weight gradient, optionally accumulated)
  (func (export "outer")
    (param $u i32) (param $x i32) (param $A i32) (param $G i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $off i32) (local $c4 i32) (local $ur f32) (local $uv v128)
    (local.set $c4 (i32.and (local.get $cols) (i32.const -4)))
    (block $done
      (loop $rows_loop
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $ur (f32.load (i32.add (local.get $u) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $uv (f32x4.splat (local.get $ur)))
        (local.set $off (i32.shl (i32.mul (local.get $r) (local.get $cols)) (i32.const 2)))
        (local.set $c (i32.const 0))
        (block $d4
          (loop $l4
            (br_if $d4 (i32.ge_u (local.get $c) (local.get $c4)))
            (if (local.get $A)
              (then
                (v128.store (i32.add (local.get $G) (local.get $off))
                  (f32x4.add (v128.load (i32.add (local.get $A) (local.get $off)))
                    (f32x4.mul (local.get $uv)
                      (v128.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2))))))))
              (else
                (v128.store (i32.add (local.get $G) (local.get $off))
                  (f32x4.mul (local.get $uv)
                    (v128.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2))))))))
            (local.set $off (i32.add (local.get $off) (i32.const 16)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $l4)))
        (block $d1
          (loop $l1
            (br_if $d1 (i32.ge_u (local.get $c) (local.get $cols)))
            (f32.store (i32.add (local.get $G) (local.get $off))
              (f32.add
                (if (result f32) (local.get $A)
                  (then (f32.load (i32.add (local.get $A) (local.get $off))))
                  (else (f32.const 0)))
                (f32.mul (local.get $ur)
                  (f32.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))))))
            (local.set $off (i32.add (local.get $off) (i32.const 4)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $l1)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows_loop))))

  ;; out[i] = p[i] + a * g[i]   (SGD with a = -lr)
  (func (export "axpy")
    (param $p i32) (param $g i32) (param $out i32) (param $n i32) (param $a f32)
    (local $i i32) (local $n4 i32) (local $av v128) (local $o i32)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $av (f32x4.splat (local.get $a)))
    (block $d4
      (loop $l4
        (br_if $d4 (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (v128.store (i32.add (local.get $out) (local.get $o))
          (f32x4.add (v128.load (i32.add (local.get $p) (local.get $o)))
            (f32x4.mul (local.get $av) (v128.load (i32.add (local.get $g) (local.get $o))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l4)))
    (block $d1
      (loop $l1
        (br_if $d1 (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (f32.store (i32.add (local.get $out) (local.get $o))
          (f32.add (f32.load (i32.add (local.get $p) (local.get $o)))
            (f32.mul (local.get $a) (f32.load (i32.add (local.get $g) (local.get $o))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l1))))

  ;; Adam: m' = b1 m + (1 - b1) g; v' = b2 v + (1 - b2) g^2; p' = p - a m' / (sqrt(v') + e)
  (func (export "adam")
    (param $p i32) (param $g i32) (param $m i32) (param $v i32)
    (param $pOut i32) (param $mOut i32) (param $vOut i32) (param $n i32)
    (param $b1 f32) (param $b2 f32) (param $a f32) (param $e f32)
    (local $i i32) (local $n4 i32) (local $o i32)
    (local $B1 v128) (local $B2 v128) (local $C1 v128) (local $C2 v128) (local $A v128) (local $E v128)
    (local $gv v128) (local $mv v128) (local $vv v128) (local $TINY v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C1 (f32x4.splat (f32.sub (f32.const 1) (local.get $b1))))
    (local.set $C2 (f32x4.splat (f32.sub (f32.const 1) (local.get $b2))))
    (local.set $A (f32x4.splat (local.get $a)))
    (local.set $E (f32x4.splat (local.get $e)))
    ;; Moments of rarely-active weights decay geometrically into subnormal floats, which x86
    ;; computes ~100x slower; flushing values below the smallest normal float (1.18e-38) to
    ;; zero changes no update by more than rounding.
    (local.set $TINY (f32x4.splat (f32.const 1.1754944e-38)))
    (block $d4
      (loop $l4
        (br_if $d4 (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $o))))
        (local.set $mv
          (f32x4.add (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $o))))
            (f32x4.mul (local.get $C1) (local.get $gv))))
        (local.set $vv
          (f32x4.add (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $o))))
            (f32x4.mul (local.get $C2) (f32x4.mul (local.get $gv) (local.get $gv)))))
        (local.set $mv
          (v128.and (local.get $mv) (f32x4.ge (f32x4.abs (local.get $mv)) (local.get $TINY))))
        (local.set $vv (v128.and (local.get $vv) (f32x4.ge (local.get $vv) (local.get $TINY))))
        (v128.store (i32.add (local.get $mOut) (local.get $o)) (local.get $mv))
        (v128.store (i32.add (local.get $vOut) (local.get $o)) (local.get $vv))
        (v128.store (i32.add (local.get $pOut) (local.get $o))
          (f32x4.sub (v128.load (i32.add (local.get $p) (local.get $o)))
            (f32x4.div (f32x4.mul (local.get $A) (local.get $mv))
              (f32x4.add (f32x4.sqrt (local.get $vv)) (local.get $E)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l4)))
    (block $d1
      (loop $l1
        (br_if $d1 (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $o))))
        (local.set $ms
          (f32.add (f32.mul (local.get $b1) (f32.load (i32.add (local.get $m) (local.get $o))))
            (f32.mul (f32.sub (f32.const 1) (local.get $b1)) (local.get $gs))))
        (local.set $vs
          (f32.add (f32.mul (local.get $b2) (f32.load (i32.add (local.get $v) (local.get $o))))
            (f32.mul (f32.sub (f32.const 1) (local.get $b2)) (f32.mul (local.get $gs) (local.get $gs)))))
        (if (f32.lt (f32.abs (local.get $ms)) (f32.const 1.1754944e-38))
          (then (local.set $ms (f32.const 0))))
        (if (f32.lt (local.get $vs) (f32.const 1.1754944e-38))
          (then (local.set $vs (f32.const 0))))
        (f32.store (i32.add (local.get $mOut) (local.get $o)) (local.get $ms))
        (f32.store (i32.add (local.get $vOut) (local.get $o)) (local.get $vs))
        (f32.store (i32.add (local.get $pOut) (local.get $o))
          (f32.sub (f32.load (i32.add (local.get $p) (local.get $o)))
            (f32.div (f32.mul (local.get $a) (local.get $ms))
              (f32.add (f32.sqrt (local.get $vs)) (local.get $e)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l1))))

  ;; Batched kernels (mini-batch training). They use relaxed_madd (one fused multiply-add
  ;; where the CPU has FMA) and keep a tile of outputs in registers; edge tiles are
  ;; clamped back inside the matrix, recomputing a few outputs with identical values,
  ;; so there is no tail code.

  ;; [a, b, c, d] -> [sum a, sum b, sum c, sum d]
  (func $hsum4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $s v128) (local $t v128)
    (local.set $s (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $t (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c) (local.get $d))))
    (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $s) (local.get $t))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $s) (local.get $t))))

  ;; Y[i, r] = sum_c X[i, c] * W[r, c] + (b ? b[r] : 0): X [n, cols], W [rows, cols],
  ;; Y [n, rows]. Tiles of 2 samples x 4 rows. Needs n >= 2, rows >= 4, cols % 4 == 0.
  (func (export "gemm_nt")
    (param $X i32) (param $W i32) (param $b i32) (param $Y i32)
    (param $n i32) (param $rows i32) (param $cols i32)
    (local $i i32) (local $r i32) (local $k i32) (local $cb i32) (local $y i32)
    (local $x0 i32) (local $x1 i32) (local $w0 i32) (local $w1 i32) (local $w2 i32) (local $w3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local $p v128) (local $q v128) (local $w v128) (local $bv v128)
    (local.set $cb (i32.shl (local.get $cols) (i32.const 2)))
    (loop $il
      (if (i32.gt_u (local.get $i) (i32.sub (local.get $n) (i32.const 2)))
        (then (local.set $i (i32.sub (local.get $n) (i32.const 2)))))
      (local.set $x0 (i32.add (local.get $X) (i32.mul (local.get $i) (local.get $cb))))
      (local.set $x1 (i32.add (local.get $x0) (local.get $cb)))
      (local.set $r (i32.const 0))
      (loop $rl
        (if (i32.gt_u (local.get $r) (i32.sub (local.get $rows) (i32.const 4)))
          (then (local.set $r (i32.sub (local.get $rows) (i32.const 4)))))
        (local.set $w0 (i32.add (local.get $W) (i32.mul (local.get $r) (local.get $cb))))
        (local.set $w1 (i32.add (local.get $w0) (local.get $cb)))
        (local.set $w2 (i32.add (local.get $w1) (local.get $cb)))
        (local.set $w3 (i32.add (local.get $w2) (local.get $cb)))
        (local.set $a0 (v128.const f32x4 0 0 0 0))
        (local.set $a1 (v128.const f32x4 0 0 0 0))
        (local.set $a2 (v128.const f32x4 0 0 0 0))
        (local.set $a3 (v128.const f32x4 0 0 0 0))
        (local.set $a4 (v128.const f32x4 0 0 0 0))
        (local.set $a5 (v128.const f32x4 0 0 0 0))
        (local.set $a6 (v128.const f32x4 0 0 0 0))
        (local.set $a7 (v128.const f32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (loop $kl
          (local.set $p (v128.load (i32.add (local.get $x0) (local.get $k))))
          (local.set $q (v128.load (i32.add (local.get $x1) (local.get $k))))
          (local.set $w (v128.load (i32.add (local.get $w0) (local.get $k))))
          (local.set $a0 (f32x4.relaxed_madd (local.get $p) (local.get $w) (local.get $a0)))
          (local.set $a4 (f32x4.relaxed_madd (local.get $q) (local.get $w) (local.get $a4)))
          (local.set $w (v128.load (i32.add (local.get $w1) (local.get $k))))
          (local.set $a1 (f32x4.relaxed_madd (local.get $p) (local.get $w) (local.get $a1)))
          (local.set $a5 (f32x4.relaxed_madd (local.get $q) (local.get $w) (local.get $a5)))
          (local.set $w (v128.load (i32.add (local.get $w2) (local.get $k))))
          (local.set $a2 (f32x4.relaxed_madd (local.get $p) (local.get $w) (local.get $a2)))
          (local.set $a6 (f32x4.relaxed_madd (local.get $q) (local.get $w) (local.get $a6)))
          (local.set $w (v128.load (i32.add (local.get $w3) (local.get $k))))
          (local.set $a3 (f32x4.relaxed_madd (local.get $p) (local.get $w) (local.get $a3)))
          (local.set $a7 (f32x4.relaxed_madd (local.get $q) (local.get $w) (local.get $a7)))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $kl (i32.lt_u (local.get $k) (local.get $cb))))
        (local.set $bv (v128.const f32x4 0 0 0 0))
        (if (local.get $b)
          (then (local.set $bv
            (v128.load (i32.add (local.get $b) (i32.shl (local.get $r) (i32.const 2)))))))
        (local.set $y (i32.add (local.get $Y)
          (i32.shl (i32.add (i32.mul (local.get $i) (local.get $rows)) (local.get $r)) (i32.const 2))))
        (v128.store (local.get $y) (f32x4.add (local.get $bv)
          (call $hsum4 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))))
        (v128.store (i32.add (local.get $y) (i32.shl (local.get $rows) (i32.const 2)))
          (f32x4.add (local.get $bv)
            (call $hsum4 (local.get $a4) (local.get $a5) (local.get $a6) (local.get $a7))))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br_if $rl (i32.lt_u (local.get $r) (local.get $rows))))
      (local.set $i (i32.add (local.get $i) (i32.const 2)))
      (br_if $il (i32.lt_u (local.get $i) (local.get $n)))))

  ;; C[m, j] = sum_k A[m * sam + k * sak] * B[k, j]: B [K, N], C [M, N], A read with
  ;; strides (so d W and d^T x are the same kernel). Tiles of 4 rows x 8 columns.
  ;; Needs M >= 4, N >= 8, K >= 1.
  (func (export "gemm_sa")
    (param $A i32) (param $sam i32) (param $sak i32) (param $B i32) (param $C i32)
    (param $M i32) (param $K i32) (param $N i32)
    (local $m i32) (local $j i32) (local $k i32) (local $nb i32) (local $sm i32) (local $sm2 i32)
    (local $sm3 i32) (local $sk i32) (local $ap i32) (local $bp i32) (local $cp i32)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $c4 v128) (local $c5 v128) (local $c6 v128) (local $c7 v128)
    (local $u v128) (local $v v128) (local $s v128)
    (local.set $nb (i32.shl (local.get $N) (i32.const 2)))
    (local.set $sm (i32.shl (local.get $sam) (i32.const 2)))
    (local.set $sm2 (i32.shl (local.get $sm) (i32.const 1)))
    (local.set $sm3 (i32.add (local.get $sm2) (local.get $sm)))
    (local.set $sk (i32.shl (local.get $sak) (i32.const 2)))
    (loop $ml
      (if (i32.gt_u (local.get $m) (i32.sub (local.get $M) (i32.const 4)))
        (then (local.set $m (i32.sub (local.get $M) (i32.const 4)))))
      (local.set $j (i32.const 0))
      (loop $jl
        (if (i32.gt_u (local.get $j) (i32.sub (local.get $N) (i32.const 8)))
          (then (local.set $j (i32.sub (local.get $N) (i32.const 8)))))
        (local.set $c0 (v128.const f32x4 0 0 0 0))
        (local.set $c1 (v128.const f32x4 0 0 0 0))
        (local.set $c2 (v128.const f32x4 0 0 0 0))
        (local.set $c3 (v128.const f32x4 0 0 0 0))
        (local.set $c4 (v128.const f32x4 0 0 0 0))
        (local.set $c5 (v128.const f32x4 0 0 0 0))
        (local.set $c6 (v128.const f32x4 0 0 0 0))
        (local.set $c7 (v128.const f32x4 0 0 0 0))
        (local.set $ap (i32.add (local.get $A) (i32.mul (local.get $m) (local.get $sm))))
        (local.set $bp (i32.add (local.get $B) (i32.shl (local.get $j) (i32.const 2))))
        (local.set $k (i32.const 0))
        (loop $kl
          (local.set $u (v128.load (local.get $bp)))
          (local.set $v (v128.load offset=16 (local.get $bp)))
          (local.set $s (v128.load32_splat (local.get $ap)))
          (local.set $c0 (f32x4.relaxed_madd (local.get $s) (local.get $u) (local.get $c0)))
          (local.set $c1 (f32x4.relaxed_madd (local.get $s) (local.get $v) (local.get $c1)))
          (local.set $s (v128.load32_splat (i32.add (local.get $ap) (local.get $sm))))
          (local.set $c2 (f32x4.relaxed_madd (local.get $s) (local.get $u) (local.get $c2)))
          (local.set $c3 (f32x4.relaxed_madd (local.get $s) (local.get $v) (local.get $c3)))
          (local.set $s (v128.load32_splat (i32.add (local.get $ap) (local.get $sm2))))
          (local.set $c4 (f32x4.relaxed_madd (local.get $s) (local.get $u) (local.get $c4)))
          (local.set $c5 (f32x4.relaxed_madd (local.get $s) (local.get $v) (local.get $c5)))
          (local.set $s (v128.load32_splat (i32.add (local.get $ap) (local.get $sm3))))
          (local.set $c6 (f32x4.relaxed_madd (local.get $s) (local.get $u) (local.get $c6)))
          (local.set $c7 (f32x4.relaxed_madd (local.get $s) (local.get $v) (local.get $c7)))
          (local.set $ap (i32.add (local.get $ap) (local.get $sk)))
          (local.set $bp (i32.add (local.get $bp) (local.get $nb)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $kl (i32.lt_u (local.get $k) (local.get $K))))
        (local.set $cp (i32.add (local.get $C)
          (i32.shl (i32.add (i32.mul (local.get $m) (local.get $N)) (local.get $j)) (i32.const 2))))
        (v128.store (local.get $cp) (local.get $c0))
        (v128.store offset=16 (local.get $cp) (local.get $c1))
        (local.set $cp (i32.add (local.get $cp) (local.get $nb)))
        (v128.store (local.get $cp) (local.get $c2))
        (v128.store offset=16 (local.get $cp) (local.get $c3))
        (local.set $cp (i32.add (local.get $cp) (local.get $nb)))
        (v128.store (local.get $cp) (local.get $c4))
        (v128.store offset=16 (local.get $cp) (local.get $c5))
        (local.set $cp (i32.add (local.get $cp) (local.get $nb)))
        (v128.store (local.get $cp) (local.get $c6))
        (v128.store offset=16 (local.get $cp) (local.get $c7))
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (br_if $jl (i32.lt_u (local.get $j) (local.get $N))))
      (local.set $m (i32.add (local.get $m) (i32.const 4)))
      (br_if $ml (i32.lt_u (local.get $m) (local.get $M)))))
)
