/**
 * Neural network modules with PyTorch's names, defaults and initialisation.
 *
 * Tensors follow the book's shapes: one sample is a 1-D tensor (`[784]`), a
 * batch adds a leading dimension (`[N, 784]`). Images for convolutions are
 * NHWC (TF.js) rather than PyTorch's NCHW. Weights of `Linear` are stored
 * `[out, in]` like PyTorch, which is also the fast form on wasm (`W @ x`).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type BackwardFn, record } from "./autograd.ts";
import { uniformArray } from "./random.ts";
import {
  batchNormGrad,
  batchNormLeakyGrad,
  batchNormLeakyTrain,
  batchNormTrain,
  columnSum,
  gelu,
  layerNorm,
  layerNormGrad,
  leakyReluGrad,
  linearBatch,
  linearBatchGradInput,
  linearBatchGradWeight,
  matVec,
  matVecT,
  outer,
  sigmoidGrad,
} from "../backends/simd.ts";

/** A trainable tensor and its accumulated gradient, like `nn.Parameter`. */
export class Parameter {
  /** Current value; replaced (not mutated) by optimisers. */
  value: tf.Tensor;
  /** Sum of gradients since the last `zeroGrad()`, or null. */
  grad: tf.Tensor | null = null;
  /** False freezes the parameter: backward skips its gradient (`requires_grad=False`). */
  requiresGrad = true;

  /** Wraps `value`, keeping it alive outside any `tf.tidy`. */
  constructor(value: tf.Tensor, readonly name = "") {
    this.value = tf.keep(value);
  }

  /** Replaces the value, disposing the old one. */
  assign(value: tf.Tensor): void {
    if (value === this.value) return;
    const old = this.value;
    this.value = tf.keep(value);
    old.dispose();
  }

  /** Adds `g` to the gradient (PyTorch accumulates until `zero_grad`). */
  accumulate(g: tf.Tensor): void {
    if (this.grad === null) {
      this.grad = tf.keep(
        g.shape.length === this.value.shape.length ? g : g.reshape(this.value.shape),
      );
      return;
    }
    const sum = tf.keep(tf.add(this.grad, g.reshape(this.value.shape)));
    this.grad.dispose();
    this.grad = sum;
  }

  /** Replaces the gradient with `g` (which already includes any earlier one). */
  setGrad(g: tf.Tensor): void {
    if (g === this.grad) return;
    const old = this.grad;
    this.grad = tf.keep(g);
    old?.dispose();
  }

  /** Drops the gradient. */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  /** Number of elements. */
  get size(): number {
    return this.value.size;
  }

  /** Frees the value and gradient. */
  dispose(): void {
    this.zeroGrad();
    this.value.dispose();
  }
}

/** Adds a gradient to `p`, computing it only if `p` wants one (frozen parameters skip the work). */
export function addGrad(p: Parameter | null, grad: () => tf.Tensor): void {
  if (p && p.requiresGrad) p.accumulate(grad());
}

/**
 * True for an array of modules (Sequential's layers). Only the first element is checked:
 * other arrays on a model, like its `progress` list of losses, grow by thousands each epoch,
 * and scanning them on every parameters() call (each generator step) would cost more and more.
 */
function isModuleList(v: unknown): v is Module[] {
  return Array.isArray(v) && v.length > 0 && v[0] instanceof Module;
}

/** Base class of every layer and model, like `nn.Module`. */
export abstract class Module {
  /** Training mode (true) or evaluation mode (false); affects BatchNorm2d. */
  training = true;

  /** Computes the module's output. */
  abstract forward(x: tf.Tensor, ...rest: tf.Tensor[]): tf.Tensor;

  /** Direct sub-modules, found among own properties like PyTorch's registration. */
  children(): Module[] {
    const out: Module[] = [];
    for (const v of Object.values(this)) {
      if (v instanceof Module) out.push(v);
      else if (isModuleList(v)) out.push(...v);
    }
    return out;
  }

  /** This module's own parameters (not its children's). */
  ownParameters(): Parameter[] {
    return Object.values(this).filter((v): v is Parameter => v instanceof Parameter);
  }

  /** All parameters, depth first, in a stable order. */
  parameters(): Parameter[] {
    return [
      ...this.ownParameters(),
      ...this.children().flatMap((c) => c.parameters()),
    ];
  }

  /** Parameters by dotted name, like `state_dict()` keys. */
  namedParameters(prefix = ""): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Parameter) out.push([prefix + k, v]);
    }
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push(...v.namedParameters(`${prefix}${k}.`));
      else if (isModuleList(v)) {
        v.forEach((m, i) => out.push(...m.namedParameters(`${prefix}${k}.${i}.`)));
      }
    }
    return out;
  }

  /** Non-trainable state (BatchNorm running statistics) by dotted name. */
  namedBuffers(prefix = ""): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push(...v.namedBuffers(`${prefix}${k}.`));
      else if (isModuleList(v)) {
        v.forEach((m, i) => out.push(...m.namedBuffers(`${prefix}${k}.${i}.`)));
      }
    }
    return out;
  }

  /** Sets training mode on this module and its children (PyTorch's `train(mode)`). */
  trainMode(mode = true): this {
    this.training = mode;
    for (const c of this.children()) c.trainMode(mode);
    return this;
  }

  /** Sets evaluation mode, like `module.eval()`. */
  eval(): this {
    return this.trainMode(false);
  }

  /** Freezes (false) or unfreezes every parameter, like `requires_grad_()`. */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Total number of trainable numbers. */
  numParameters(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  /** Copies parameters and buffers out as plain arrays (for checkpoints). */
  stateDict(): Record<string, { shape: number[]; data: Float32Array }> {
    const out: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [k, p] of [...this.namedParameters(), ...this.namedBuffers()]) {
      out[k] = {
        shape: p.value.shape,
        data: p.value.dataSync() as Float32Array,
      };
    }
    return out;
  }

  /** `stateDict()` with asynchronous reads: what a GPU backend needs (WebGPU cannot read big tensors synchronously in Deno). */
  async stateDictAsync(): Promise<Record<string, { shape: number[]; data: Float32Array }>> {
    const out: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [k, p] of [...this.namedParameters(), ...this.namedBuffers()]) {
      out[k] = { shape: p.value.shape, data: await p.value.data() as Float32Array };
    }
    return out;
  }

  /** The names `stateDict()` uses, without reading any tensor. */
  stateKeys(): string[] {
    return [...this.namedParameters(), ...this.namedBuffers()].map(([k]) => k);
  }

  /** Loads what `stateDict()` returned; every key and shape must match. */
  loadStateDict(
    state: Record<string, { shape: number[]; data: ArrayLike<number> }>,
  ): void {
    const mine = [...this.namedParameters(), ...this.namedBuffers()];
    const missing = mine.filter(([k]) => !(k in state)).map(([k]) => k);
    if (missing.length) {
      throw new Error(
        `State is missing ${missing.join(", ")}: was it saved from the same network?`,
      );
    }
    for (const [k, p] of mine) {
      const s = state[k];
      if (s.shape.join() !== p.value.shape.join() || s.data.length !== p.size) {
        throw new Error(
          `State ${k} has shape [${s.shape}] but the network expects [${p.value.shape}]`,
        );
      }
      p.assign(tf.tensor(Float32Array.from(s.data), p.value.shape));
    }
  }

  /** Frees every parameter. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    for (const [, b] of this.namedBuffers()) b.dispose();
  }
}

/** Applies modules in order, like `nn.Sequential`. */
export class Sequential extends Module {
  readonly layers: Module[];
  /** Takes the modules in the order they apply. */
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
  }
  /**
   * Feeds `x` through every layer. A training BatchNorm2d followed by a LeakyReLU runs as one
   * kernel where the backend has it (webgpu), with the same result.
   */
  forward(x: tf.Tensor): tf.Tensor {
    let y = x;
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i], next = this.layers[i + 1];
      const both = layer instanceof BatchNorm2d && next instanceof LeakyReLU
        ? layer.forwardLeaky(y, next.negativeSlope)
        : null;
      if (both) {
        y = both;
        i++;
      } else {
        y = layer.forward(y);
      }
    }
    return y;
  }
}

/** PyTorch's default init for weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function kaimingUniform(shape: number[], fanIn: number): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(uniformArray(n, -bound, bound), shape);
}

/** Fully connected layer `y = W x + b`, like `nn.Linear` (same init, W stored [out, in]). */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  /** `inFeatures` inputs to `outFeatures` outputs. */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean } = {},
  ) {
    super();
    // PyTorch draws the weight first, then the bias, both from the same bound.
    this.weight = new Parameter(
      kaimingUniform([outFeatures, inFeatures], inFeatures),
      "weight",
    );
    this.bias = opts.bias === false
      ? null
      : new Parameter(kaimingUniform([outFeatures], inFeatures), "bias");
  }

  /** `[in] -> [out]` or `[N, in] -> [N, out]`. */
  forward(x: tf.Tensor): tf.Tensor {
    const last = x.shape[x.rank - 1];
    if (last !== this.inFeatures) {
      throw new Error(
        `Linear(${this.inFeatures}, ${this.outFeatures}) got input of shape [${x.shape}]: the last dimension must be ${this.inFeatures}`,
      );
    }
    const W = this.weight.value;
    const b = this.bias?.value;
    let y: tf.Tensor;
    if (x.rank === 1) {
      // One sample: a fused SIMD matrix-vector product on wasm (lib/backends/simd.ts).
      y = matVec(W as tf.Tensor2D, x as tf.Tensor1D, b as tf.Tensor1D | undefined);
    } else if (x.rank === 2) {
      y = linearBatch(x as tf.Tensor2D, W as tf.Tensor2D, b);
    } else {
      throw new Error(
        `Linear expects a 1-D sample or a 2-D batch, got shape [${x.shape}]: reshape with View first`,
      );
    }
    const backward: BackwardFn = (dy, needs) => {
      if (x.rank === 1) {
        // The weight gradient is an outer product, added to any earlier one in the same pass.
        const w = this.weight;
        if (w.requiresGrad) {
          w.setGrad(outer(dy as tf.Tensor1D, x as tf.Tensor1D, w.grad as tf.Tensor2D | null));
        }
        addGrad(this.bias, () => dy);
        return [needs[0] ? matVecT(W as tf.Tensor2D, dy as tf.Tensor1D) : null];
      }
      addGrad(this.weight, () => linearBatchGradWeight(dy as tf.Tensor2D, x as tf.Tensor2D));
      addGrad(this.bias, () => columnSum(dy as tf.Tensor2D));
      return [needs[0] ? linearBatchGradInput(dy as tf.Tensor2D, W as tf.Tensor2D) : null];
    };
    return record(y, [x], backward, true);
  }
}

/** Logistic sigmoid, like `nn.Sigmoid`. */
export class Sigmoid extends Module {
  /** Elementwise 1 / (1 + e^-x). */
  forward(x: tf.Tensor): tf.Tensor {
    const y = tf.sigmoid(x);
    return record(y, [x], (dy) => [sigmoidGrad(y, dy)]);
  }
}

/** Hyperbolic tangent, like `nn.Tanh`. */
export class Tanh extends Module {
  /** Elementwise tanh. */
  forward(x: tf.Tensor): tf.Tensor {
    const y = tf.tanh(x);
    return record(y, [x], (dy) => [tf.mul(dy, tf.sub(1, tf.square(y)))]);
  }
}

/** Rectified linear unit, like `nn.ReLU`. */
export class ReLU extends Module {
  /** Elementwise max(0, x). */
  forward(x: tf.Tensor): tf.Tensor {
    const y = tf.relu(x);
    return record(y, [x], (dy) => [tf.mul(dy, tf.step(x))]);
  }
}

/** Leaky ReLU with PyTorch's default slope 0.01 (TF.js's default is 0.3). */
export class LeakyReLU extends Module {
  /** `negativeSlope` multiplies negative inputs. */
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  /** Elementwise x if x > 0 else slope * x. */
  forward(x: tf.Tensor): tf.Tensor {
    const y = tf.leakyRelu(x, this.negativeSlope);
    const s = this.negativeSlope;
    return record(y, [x], (dy) => [leakyReluGrad(x, dy, s)]);
  }
}

/** Gaussian error linear unit (exact, erf form), like `nn.GELU`. */
export class GELU extends Module {
  /** Elementwise x * Phi(x). */
  forward(x: tf.Tensor): tf.Tensor {
    const [y, grad] = gelu(x);
    return record(y, [x], (dy) => [grad(dy)]);
  }
}

/** Reshapes, like the book's `View` module (the leading batch size is kept if present). */
export class View extends Module {
  readonly shape: number[];
  /** Target shape per sample; -1 infers one dimension. */
  constructor(...shape: number[]) {
    super();
    this.shape = shape;
  }
  /** Reshapes `x` to the target shape. */
  forward(x: tf.Tensor): tf.Tensor {
    const per = this.shape.reduce((a, b) => (b === -1 ? a : a * b), 1);
    const inferred = this.shape.map((d) => (d === -1 ? x.size / per : d));
    const total = inferred.reduce((a, b) => a * b, 1);
    let target: number[];
    if (total === x.size) target = inferred;
    else if (x.size % total === 0 && x.shape[0] * total === x.size) {
      target = [x.shape[0], ...inferred];
    } else {
      throw new Error(
        `View(${this.shape}) cannot reshape a tensor of shape [${x.shape}] (${x.size} values)`,
      );
    }
    const y = x.reshape(target);
    return record(y, [x], (dy) => [dy.reshape(x.shape)]);
  }
}

/** Normalises over the last dimension with a learned scale and shift, like `nn.LayerNorm` (eps 1e-5). */
export class LayerNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  /** `normalizedShape` is the size of the last dimension. */
  constructor(readonly normalizedShape: number, readonly eps = 1e-5) {
    super();
    this.weight = new Parameter(tf.ones([normalizedShape]), "weight");
    this.bias = new Parameter(tf.zeros([normalizedShape]), "bias");
  }
  /** (x - mean) / sqrt(var + eps) * weight + bias over the last axis. */
  forward(x: tf.Tensor): tf.Tensor {
    const n = this.normalizedShape;
    if (x.shape[x.rank - 1] !== n) {
      throw new Error(
        `LayerNorm(${n}) got input of shape [${x.shape}]: the last dimension must be ${n}`,
      );
    }
    const W = this.weight.value;
    const [y, xhat, rstd] = layerNorm(x, W, this.bias.value, this.eps);
    return record(y, [x], (dy, needs) => {
      const [dx, dw, db] = layerNormGrad(dy, xhat, rstd, W);
      addGrad(this.weight, () => dw);
      addGrad(this.bias, () => db);
      return [needs[0] ? dx : null];
    }, true);
  }
}

/** Batch normalisation over N, H, W of NHWC images, like `nn.BatchNorm2d` (eps 1e-5, momentum 0.1). */
export class BatchNorm2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  /** Running statistics, kept outside `parameters()`. */
  readonly runningMean: Parameter;
  readonly runningVar: Parameter;
  /** `numFeatures` channels. */
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.weight = new Parameter(tf.ones([numFeatures]), "weight");
    this.bias = new Parameter(tf.zeros([numFeatures]), "bias");
    this.runningMean = new Parameter(tf.zeros([numFeatures]), "running_mean");
    this.runningVar = new Parameter(tf.ones([numFeatures]), "running_var");
  }
  override parameters(): Parameter[] {
    return [this.weight, this.bias];
  }
  override namedParameters(prefix = ""): [string, Parameter][] {
    return [[prefix + "weight", this.weight], [prefix + "bias", this.bias]];
  }
  override namedBuffers(prefix = ""): [string, Parameter][] {
    return [[prefix + "running_mean", this.runningMean], [
      prefix + "running_var",
      this.runningVar,
    ]];
  }
  /** Normalises `[N, H, W, C]` (or `[H, W, C]`) per channel. */
  forward(x: tf.Tensor): tf.Tensor {
    if (x.shape[x.rank - 1] !== this.numFeatures) {
      throw new Error(
        `BatchNorm2d(${this.numFeatures}) got input of shape [${x.shape}]: the last (channel) dimension must be ${this.numFeatures}`,
      );
    }
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    if (!this.training) {
      const rstd = tf.rsqrt(tf.add(this.runningVar.value, this.eps));
      const y = tf.add(
        tf.mul(
          tf.mul(tf.sub(x, this.runningMean.value), rstd),
          this.weight.value,
        ),
        this.bias.value,
      );
      return record(y, [x], (dy, needs) => {
        const xhat = tf.mul(tf.sub(x, this.runningMean.value), rstd);
        addGrad(this.weight, () => tf.sum(tf.mul(dy, xhat), axes));
        addGrad(this.bias, () => tf.sum(dy, axes));
        return [needs[0] ? tf.mul(dy, tf.mul(this.weight.value, rstd)) : null];
      }, true);
    }
    const W = this.weight.value;
    const opts = { eps: this.eps, momentum: this.momentum };
    return this.#trained(
      x,
      batchNormTrain(x, W, this.bias.value, this.runningMean.value, this.runningVar.value, opts),
      (dy, xhat, rstd) => batchNormGrad(dy, xhat, rstd, W),
    );
  }

  /**
   * `forward` then LeakyReLU(`slope`) as one kernel, in training mode on a backend that has it
   * (webgpu); null otherwise, and then nothing has run. Sequential uses it.
   */
  forwardLeaky(x: tf.Tensor, slope: number): tf.Tensor | null {
    if (!this.training || x.shape[x.rank - 1] !== this.numFeatures) return null;
    const W = this.weight.value, B = this.bias.value;
    const opts = { eps: this.eps, momentum: this.momentum, slope };
    const out = batchNormLeakyTrain(x, W, B, this.runningMean.value, this.runningVar.value, opts);
    if (!out) return null;
    return this.#trained(
      x,
      out,
      (dy, xhat, rstd) => batchNormLeakyGrad(dy, xhat, rstd, W, B, slope),
    );
  }

  /** Keeps a training pass's running statistics and records its backward (`grad`). */
  #trained(
    x: tf.Tensor,
    [y, xhat, rstd, rm, rv]: tf.Tensor[],
    grad: (dy: tf.Tensor, xhat: tf.Tensor, rstd: tf.Tensor) => tf.Tensor[],
  ): tf.Tensor {
    this.runningMean.assign(rm);
    this.runningVar.assign(rv);
    return record(y, [x], (dy, needs) => {
      const [dx, dw, db] = grad(dy, xhat, rstd);
      addGrad(this.weight, () => dw);
      addGrad(this.bias, () => db);
      return [needs[0] ? dx : null];
    }, true);
  }
}

type Pair = number | [number, number];
const pair = (
  v: Pair,
): [number, number] => (typeof v === "number" ? [v, v] : v);

function as4d(x: tf.Tensor, who: string, channels: number): tf.Tensor4D {
  if (x.rank === 3) x = x.expandDims(0);
  if (x.rank !== 4 || x.shape[3] !== channels) {
    throw new Error(
      `${who} expects NHWC input with ${channels} channels, got shape [${x.shape}]`,
    );
  }
  return x as tf.Tensor4D;
}

function explicitPad(
  p: [number, number],
): [[number, number], [number, number], [number, number], [number, number]] {
  return [[0, 0], [p[0], p[0]], [p[1], p[1]], [0, 0]];
}

/**
 * A convolution's weight and bias with PyTorch's init: drawn in PyTorch's layout
 * `torchShape` ([out, in, kh, kw] for Conv2d, [in, out, kh, kw] for ConvTranspose2d),
 * then laid out as TF.js wants it, [kh, kw, dim1, dim0].
 */
function convParameters(
  torchShape: [number, number, number, number],
  fanIn: number,
  outChannels: number,
  bias: boolean,
): { weight: Parameter; bias: Parameter | null } {
  const w = kaimingUniform(torchShape, fanIn);
  const weight = new Parameter(tf.tidy(() => tf.transpose(w, [2, 3, 1, 0])), "weight");
  w.dispose();
  return {
    weight,
    bias: bias ? new Parameter(kaimingUniform([outChannels], fanIn), "bias") : null,
  };
}

type Pad4 = "valid" | [[number, number], [number, number], [number, number], [number, number]];

/** The filter gradient of a stride-`strides` convolution of `x` that produced `dy`. */
function filterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  W: tf.Tensor4D,
  strides: [number, number],
  pad: Pad4,
) {
  return tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
    strides,
    pad,
    dataFormat: "NHWC",
    filterShape: W.shape,
  }) as tf.Tensor;
}

/** Options of the convolutions, PyTorch's keyword arguments. */
export interface ConvOptions {
  /** Step between kernel positions (default 1). */
  stride?: Pair;
  /** Zero padding (Conv2d) or border crop (ConvTranspose2d) per side (default 0). */
  padding?: Pair;
  /** Learn a bias per output channel (default true). */
  bias?: boolean;
}

/** What Conv2d and ConvTranspose2d share, like PyTorch's `_ConvNd`: sizes and parameters. */
abstract class ConvBase extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  /** `torchShape` is PyTorch's weight shape, `fanIn` the fan-in its initialisation uses. */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: ConvOptions,
    layout: (
      kh: number,
      kw: number,
    ) => { torchShape: [number, number, number, number]; fanIn: number },
  ) {
    super();
    this.kernelSize = pair(kernelSize);
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    const { torchShape, fanIn } = layout(...this.kernelSize);
    const params = convParameters(torchShape, fanIn, outChannels, opts.bias !== false);
    this.weight = params.weight;
    this.bias = params.bias;
  }
  /** TF.js's padding argument for `padding`. */
  protected padArg(): "valid" | ReturnType<typeof explicitPad> {
    return this.padding[0] === 0 && this.padding[1] === 0 ? "valid" : explicitPad(this.padding);
  }
}

/** 2-D convolution on NHWC images, like `nn.Conv2d` (PyTorch init; weight stored [kh, kw, in, out]). */
export class Conv2d extends ConvBase {
  /** `inChannels` to `outChannels` with a square or [h, w] kernel. */
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: ConvOptions = {}) {
    super(inChannels, outChannels, kernelSize, opts, (kh, kw) => ({
      torchShape: [outChannels, inChannels, kh, kw],
      fanIn: inChannels * kh * kw,
    }));
  }
  /** `[N, H, W, Cin] -> [N, H', W', Cout]` with H' = floor((H + 2p - k) / s) + 1. */
  forward(input: tf.Tensor): tf.Tensor {
    const x = as4d(
      input,
      `Conv2d(${this.inChannels}, ${this.outChannels})`,
      this.inChannels,
    );
    const pad = this.padArg();
    const W = this.weight.value as tf.Tensor4D;
    // One fused kernel for the convolution and its bias (one dispatch on webgpu).
    let y: tf.Tensor = tf.fused.conv2d({
      x,
      filter: W,
      strides: this.stride,
      pad,
      bias: this.bias?.value,
    });
    if (input.rank === 3) y = y.squeeze([0]);
    const backward: BackwardFn = (dyIn, needs) => {
      const dy = (dyIn.rank === 3 ? dyIn.expandDims(0) : dyIn) as tf.Tensor4D;
      addGrad(this.weight, () => filterGrad(x, dy, W, this.stride, pad));
      addGrad(this.bias, () => columnSum(dy.reshape([-1, dy.shape[3]]) as tf.Tensor2D));
      if (!needs[0]) return [null];
      const dx = tf.conv2dTranspose(dy, W, x.shape, this.stride, pad);
      return [input.rank === 3 ? dx.squeeze([0]) : dx];
    };
    return record(y, [input], backward, true);
  }
}

/** Transposed 2-D convolution on NHWC images, like `nn.ConvTranspose2d` (padding crops each border). */
export class ConvTranspose2d extends ConvBase {
  /** `inChannels` to `outChannels`; output size (in - 1) * s - 2p + k. */
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: ConvOptions = {}) {
    // PyTorch's weight is [in, out, kh, kw] and its fan-in is taken from dim 1: out * kh * kw.
    // TF.js conv2dTranspose wants [kh, kw, out, in].
    super(inChannels, outChannels, kernelSize, opts, (kh, kw) => ({
      torchShape: [inChannels, outChannels, kh, kw],
      fanIn: outChannels * kh * kw,
    }));
  }
  /** Output spatial size for an input size, PyTorch's formula. */
  outputSize(h: number, w: number): [number, number] {
    const [kh, kw] = this.kernelSize,
      [sh, sw] = this.stride,
      [ph, pw] = this.padding;
    return [(h - 1) * sh - 2 * ph + kh, (w - 1) * sw - 2 * pw + kw];
  }
  /** `[N, H, W, Cin] -> [N, H', W', Cout]`. */
  forward(input: tf.Tensor): tf.Tensor {
    const x = as4d(
      input,
      `ConvTranspose2d(${this.inChannels}, ${this.outChannels})`,
      this.inChannels,
    );
    const [oh, ow] = this.outputSize(x.shape[1], x.shape[2]);
    if (oh <= 0 || ow <= 0) {
      throw new Error(
        `ConvTranspose2d output would be ${oh}x${ow}: the input [${x.shape}] is too small`,
      );
    }
    const pad = this.padArg();
    const W = this.weight.value as tf.Tensor4D;
    const outShape: [number, number, number, number] = [
      x.shape[0],
      oh,
      ow,
      this.outChannels,
    ];
    let y: tf.Tensor = tf.conv2dTranspose(x, W, outShape, this.stride, pad);
    if (this.bias) y = tf.add(y, this.bias.value);
    if (input.rank === 3) y = y.squeeze([0]);
    const backward: BackwardFn = (dyIn, needs) => {
      const dy = (dyIn.rank === 3 ? dyIn.expandDims(0) : dyIn) as tf.Tensor4D;
      // y = conv2d^T(x): the filter gradient is the conv's filter gradient with dy as its input.
      addGrad(this.weight, () => filterGrad(dy, x, W, this.stride, pad));
      addGrad(this.bias, () => columnSum(dy.reshape([-1, dy.shape[3]]) as tf.Tensor2D));
      if (!needs[0]) return [null];
      const dx = tf.conv2d(dy, W, this.stride, pad);
      return [input.rank === 3 ? dx.squeeze([0]) : dx];
    };
    return record(y, [input], backward, true);
  }
}

/** Concatenates tensors along `axis` (default the last), with gradients, like `torch.cat`. */
export function cat(tensors: tf.Tensor[], axis = -1): tf.Tensor {
  const ax = axis < 0 ? tensors[0].rank + axis : axis;
  const y = tf.concat(tensors, ax);
  const sizes = tensors.map((t) => t.shape[ax]);
  return record(y, tensors, (dy, needs) => {
    const parts = tf.split(dy, sizes, ax);
    return parts.map((p, i) => (needs[i] ? p : null));
  });
}
