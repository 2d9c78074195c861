/**
 * The notebooks write out the book's `Discriminator` and `Generator` classes in full, as the book
 * does; the library has the same classes for the scripts and benchmarks. These tests take the class
 * cells straight from the notebooks (the very code shown there), train them side by side with the
 * library's classes from one seed, and check that the losses and the weights agree, so the two
 * cannot drift apart.
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  Adam,
  BCELoss,
  ConditionalDiscriminator,
  ConditionalGenerator,
  detach,
  Discriminator,
  generateRandomImage,
  generateRandomSeed,
  Generator,
  initBackend,
  LayerNorm,
  LeakyReLU,
  Linear,
  manualSeed,
  MnistDiscriminator,
  MnistGenerator,
  type Module,
  MSELoss,
  Sequential,
  SGD,
  Sigmoid,
  tensorData,
} from "../mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const OUT = `${ROOT}out/notebook_classes`;

/** A notebook class cell starts with this comment, as in the book. */
const CLASS_CELL = /^\/\/ (discriminator|generator) class\b/;
/** The cell with the random-data helpers the classes may call. */
const HELPER_CELL = /^\/\/ functions? to generate random data\b/;

/** What the tests use of a notebook's classes (and of the library's). */
interface Trains extends Module {
  counter: number;
  progress: number[];
  // deno-lint-ignore no-explicit-any
  train(...args: any[]): void;
}
type Ctor = new () => Trains;

/**
 * The notebook's first code cell (its imports), its random-data helpers and its class cells,
 * written as one module under out/ and imported: `{ Discriminator, Generator }`.
 */
async function notebookClasses(name: string): Promise<{ D: Ctor; G: Ctor; source: string }> {
  const nb = JSON.parse(await Deno.readTextFile(`${ROOT}notebooks/${name}.ipynb`));
  const code: string[] = nb.cells
    .filter((c: { cell_type: string }) => c.cell_type === "code")
    .map((c: { source: string[] }) => c.source.join(""));
  const classes = code.filter((src) => CLASS_CELL.test(src));
  assert.equal(classes.length, 2, `${name} should have a discriminator and a generator class cell`);
  const cells = [code[0], ...code.filter((src) => HELPER_CELL.test(src)), ...classes];
  const source = cells.join("\n\n").replaceAll('"../', '"../../') +
    "\n\nexport { Discriminator, Generator };\n";
  await Deno.mkdir(OUT, { recursive: true });
  const file = `${OUT}/${name}.ts`;
  await Deno.writeTextFile(file, source);
  const mod = await import(`file://${file}`);
  return { D: mod.Discriminator, G: mod.Generator, source: classes.join("\n") };
}

/** Lets the asynchronous loss reads land in their progress slots. */
async function settle(): Promise<void> {
  await tensorData(tf.scalar(0));
  await new Promise((resolve) => setTimeout(resolve, 0));
}

interface Step {
  real: tf.Tensor;
  seedA: tf.Tensor;
  seedB: tf.Tensor;
  label?: tf.Tensor;
}

/** The book's GAN loop: D on real (1), D on detached fake (0), G through D (1). */
function trainGan(D: Trains, G: Trains, steps: Step[], conditional: boolean): void {
  const one = tf.tensor1d([1.0]), zero = tf.tensor1d([0.0]);
  for (const s of steps) {
    tf.tidy(() => {
      if (conditional) {
        const fake = detach((G as unknown as { forward(a: tf.Tensor, b: tf.Tensor): tf.Tensor })
          .forward(s.seedA, s.label!));
        D.train(s.real, s.label!, one);
        D.train(fake, s.label!, zero);
        G.train(D, s.seedB, s.label!, one);
      } else {
        D.train(s.real, one);
        D.train(detach(G.forward(s.seedA)), zero);
        G.train(D, s.seedB, one);
      }
    });
  }
  tf.dispose([one, zero]);
}

function makeSteps(n: number, real: number, seed: number, labels: number): Step[] {
  manualSeed(7);
  return Array.from({ length: n }, (_, i) => ({
    real: generateRandomImage(real),
    seedA: generateRandomSeed(seed),
    seedB: generateRandomSeed(seed),
    label: labels ? tf.oneHot(i % labels, labels).toFloat() : undefined,
  }));
}

async function weights(m: Module): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const p of m.parameters()) out.push(await p.value.data() as Float32Array);
  return out;
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = 1e-6): void {
  assert.equal(a.length, b.length, `${what}: lengths differ`);
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= tol * Math.max(1, Math.abs(b[i])))) {
      assert.fail(`${what}[${i}]: notebook ${a[i]}, library ${b[i]}`);
    }
  }
}

/** Trains both pairs from one seed on the same inputs and compares counters, losses and weights. */
async function compare(
  nb: { D: Ctor; G: Ctor },
  lib: { D: Ctor; G: Ctor },
  steps: Step[],
  conditional = false,
): Promise<void> {
  manualSeed(1);
  const nD = new nb.D(), nG = new nb.G();
  manualSeed(1);
  const lD = new lib.D(), lG = new lib.G();
  for (const [a, b, who] of [[nD, lD, "D"], [nG, lG, "G"]] as const) {
    const [wa, wb] = [await weights(a), await weights(b)];
    assert.equal(wa.length, wb.length, `${who}: parameter count`);
    wa.forEach((w, i) => assertClose(w, wb[i], `${who} initial weight ${i}`, 0));
  }
  (lD as unknown as { printEvery: number }).printEvery = 0;
  trainGan(nD, nG, steps, conditional);
  trainGan(lD, lG, steps, conditional);
  await settle();
  for (const [a, b, who] of [[nD, lD, "D"], [nG, lG, "G"]] as const) {
    assert.equal(a.counter, b.counter, `${who} counter`);
    assert.ok(a.progress.length > 0, `${who} recorded no loss`);
    assertClose(a.progress, b.progress, `${who} progress`);
    const [wa, wb] = [await weights(a), await weights(b)];
    wa.forEach((w, i) => assertClose(w, wb[i], `${who} weight ${i}`));
  }
  for (const m of [nD, nG, lD, lG]) m.dispose();
  for (const s of steps) tf.dispose([s.real, s.seedA, s.seedB, ...(s.label ? [s.label] : [])]);
}

Deno.test("notebook 06's 1010 classes train exactly as the library's Discriminator and Generator", async () => {
  await initBackend();
  const nb = await notebookClasses("06_gan_simple_pattern");
  class LibD extends Discriminator {
    constructor() {
      super();
      this.model = new Sequential(new Linear(4, 3), new Sigmoid(), new Linear(3, 1), new Sigmoid());
      this.lossFunction = new MSELoss();
      this.optimiser = new SGD(this.parameters(), { lr: 0.01 });
    }
  }
  class LibG extends Generator {
    constructor() {
      super();
      this.model = new Sequential(new Linear(1, 3), new Sigmoid(), new Linear(3, 4), new Sigmoid());
      this.optimiser = new SGD(this.parameters(), { lr: 0.01 });
    }
  }
  await compare(nb, { D: LibD, G: LibG }, makeSteps(40, 4, 1, 0));
});

Deno.test("notebook 08's classes train exactly as the library's MnistDiscriminator and MnistGenerator", async () => {
  await initBackend();
  const nb = await notebookClasses("08_gan_mnist");
  assert.match(nb.source, /loss\.backward\(\)/);
  assert.match(nb.source, /this\.optimiser\.zeroGrad\(\)/);
  assert.match(nb.source, /D\.lossFunction\.forward\(dOutput, targets\)/);
  await compare(
    nb,
    { D: MnistDiscriminator, G: MnistGenerator },
    makeSteps(30, 784, 100, 0),
  );
});

Deno.test("notebook 16's conditional classes train exactly as the library's ConditionalDiscriminator and ConditionalGenerator", async () => {
  await initBackend();
  const nb = await notebookClasses("16_cgan_mnist");
  assert.match(nb.source, /cat\(\[imageTensor, labelTensor\]\)/);
  class LibD extends ConditionalDiscriminator {
    constructor() {
      super();
      this.model = new Sequential(
        new Linear(784 + 10, 200),
        new LeakyReLU(0.02),
        new LayerNorm(200),
        new Linear(200, 1),
        new Sigmoid(),
      );
      this.lossFunction = new BCELoss();
      this.optimiser = new Adam(this.parameters(), { lr: 0.0001 });
    }
  }
  class LibG extends ConditionalGenerator {
    constructor() {
      super();
      this.model = new Sequential(
        new Linear(100 + 10, 200),
        new LeakyReLU(0.02),
        new LayerNorm(200),
        new Linear(200, 784),
        new Sigmoid(),
      );
      this.optimiser = new Adam(this.parameters(), { lr: 0.0001 });
    }
  }
  await compare(nb, { D: LibD, G: LibG }, makeSteps(30, 784, 100, 10), true);
});
