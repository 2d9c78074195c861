#!/usr/bin/python3
"""PyTorch versions of the workloads bench/*.ts times, re-typed from the book, on one thread.

    /usr/bin/python3 bench/pytorch/bench.py [classifier] [gan] [cnn] [faces] [--quick]
                                             [--stock-malloc]

With no workload named, all run. Each result is ONE line of JSON on stdout (progress
notes go to stderr), for a TypeScript bench to parse:

    {"bench": "classifier_sgd", "name": "classifier SGD (03) step", "ms": 0.231,
     "p10_ms": 0.228, "p90_ms": 0.236, "steps": 3000, "unit": "ms per step", ...}

"ms" is the median milliseconds per step (per GAN iteration for the GANs), timed as
bench/bench.ts times its own: untimed warm-up, then rounds of steps, the median of the
per-round means. Batched MNIST GAN epochs add "epoch_s", seconds per 60,000 images,
extrapolated from a slice as bench/gan.ts does. Every line also names the torch version,
the thread count and where the images came from ("data": "mnist" reads the first rows of
data/mnist_train.csv, made by `deno task data`; otherwise "random" pixels, which time the
same). --quick runs few steps: a smoke test, not a measurement.

Memory and BLAS. Before torch loads, bench.py re-runs itself with
GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (glibc 2.35 or later: malloc asks for transparent huge
pages, which the kernel gives where /sys/kernel/mm/transparent_hugepage/enabled is "madvise" or
"always") and OPENBLAS_NUM_THREADS=1. The workloads are the book's either way; what changes is the
cost of fresh memory. glibc hands every block over 32 MiB back to the kernel when it is freed, so
each face GAN iteration touches about 700 MiB (notebook 12) or 390 MiB (notebook 14) of new pages:
some 180,000 and 100,000 4 KiB page faults. On an ordinary Linux machine those cost well under a
microsecond each; on the project VM (a Firecracker guest) they cost 12-30 us each, which made
notebook 12's iteration 4-9 s instead of about 0.5 s. With huge pages the same memory is 2 MiB
faults and the iteration is back to its arithmetic. --stock-malloc skips the re-run, to see the
difference. Debian's python3-torch calls whichever libblas.so.3 the system selects: the reference
BLAS (libblas3) unless OpenBLAS (libopenblas0-pthread) is installed; with OpenBLAS, notebook 14's
transposed convolutions (im2col + sgemm) are several times faster. Every line says which
("blas", "malloc", "thp"), so figures measured under different conditions are not mixed up.

Benches (the "bench" key), matching bench/*.ts:
  classifier_sgd, classifier_adam    notebook 03 and 04 (combined) classifiers, batch 1
  gan_iteration                      notebook 08's MNIST GAN, one image per iteration
  gan_epoch_batch_32|64|128          the same GAN on mini-batches (beyond the book)
  cnn_step                           notebook 13's CNN classifier, batch 1
  face_fc_iteration                  notebook 12's fully connected face GAN, 218x178 image
  face_conv_iteration                notebook 14's convolutional face GAN, 128x128 crop
"""
import json
import os
import sys
import time

# OpenBLAS (when the system's libblas.so.3 is OpenBLAS) reads this as torch loads it; Debian's torch
# is built with BLAS_INFO=generic, so torch.set_num_threads does not reach OpenBLAS's own threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# glibc reads GLIBC_TUNABLES only as a process starts, hence the re-run (see "Memory and BLAS").
if (__name__ == "__main__" and "--stock-malloc" not in sys.argv
        and "glibc.malloc.hugetlb" not in os.environ.get("GLIBC_TUNABLES", "")):
    tunables = ":".join(filter(None, [os.environ.get("GLIBC_TUNABLES"), "glibc.malloc.hugetlb=1"]))
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]],
              {**os.environ, "GLIBC_TUNABLES": tunables})

import torch  # noqa: E402
from torch import nn  # noqa: E402

THREADS = 1
torch.set_num_threads(THREADS)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICK = "--quick" in sys.argv


def note(*args):
    print(*args, file=sys.stderr, flush=True)


def blas_library():
    """Which libblas.so.3 torch loaded: "openblas", "reference" (Debian's libblas3) or its path."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.rsplit("/", 1)[-1]}
    except OSError:
        return "unknown"
    real = sorted({os.path.realpath(p) for p in paths})
    if any("openblas" in p for p in real):
        return "openblas"
    if any(p.endswith("/blas/libblas.so.3") or "/blas/libblas.so.3." in p for p in real):
        return "reference"
    return ", ".join(real) or "none"


def thp_mode():
    """The kernel's transparent huge page mode ("always", "madvise", "never")."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            text = f.read()
        return text[text.index("[") + 1:text.index("]")]
    except (OSError, ValueError):
        return "unknown"


BLAS = blas_library()
THP = thp_mode()
MALLOC = os.environ.get("GLIBC_TUNABLES") or "default"


def emit(bench, name, per_round, steps, unit, data, **extra):
    s = sorted(per_round)
    q = lambda p: s[min(len(s) - 1, int(p * len(s)))]  # noqa: E731
    r = lambda x: round(x, 4)  # noqa: E731
    extra = {k: r(v) if isinstance(v, float) else v for k, v in extra.items()}
    line = {"bench": bench, "name": name, "ms": r(q(0.5)), "p10_ms": r(q(0.1)), "p90_ms": r(q(0.9)),
            "steps": steps, "unit": unit, **extra, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "data": data, "quick": QUICK, "blas": BLAS,
            "malloc": MALLOC, "thp": THP}
    print(json.dumps(line), flush=True)


def time_steps(step, warmup, rounds, per_round):
    """Per-round mean ms of step(i), after warm-up (bench.ts's timeSteps)."""
    if QUICK:
        warmup, rounds, per_round = min(warmup, 5), min(rounds, 3), min(per_round, 5)
    for i in range(warmup):
        step(i)
    per = []
    k = warmup
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(per_round):
            step(k)
            k += 1
        per.append((time.perf_counter() - t0) * 1000 / per_round)
    return per, rounds * per_round


# ---------------------------------------------------------------------------- data


def mnist(limit):
    """(images [n, 784] in 0-1, one-hot targets [n, 10]) as the book's MnistDataset."""
    path = os.path.join(ROOT, "data", "mnist_train.csv")
    rows = []
    source = "random"
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                rows.append([int(v) for v in line.split(",")])
                if len(rows) == limit:
                    break
        source = "mnist"
    if len(rows) < limit:
        g = torch.Generator().manual_seed(0)
        rows = torch.cat([torch.randint(0, 10, (limit, 1), generator=g),
                          torch.randint(0, 256, (limit, 784), generator=g)], 1).tolist()
        source = "random"
    t = torch.tensor(rows, dtype=torch.float32)
    images = t[:, 1:] / 255.0
    targets = torch.zeros(limit, 10)
    targets[torch.arange(limit), t[:, 0].long()] = 1.0
    return images, targets, source


# ---------------------------------------------------------------------------- the book's classes


class View(nn.Module):
    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.view(*self.shape)


class Trainable(nn.Module):
    """The book's pattern: counter, progress every 10 steps, zero_grad, backward, step."""

    def __init__(self):
        super().__init__()
        self.counter = 0
        self.progress = []

    def forward(self, inputs):
        return self.model(inputs)

    def optimise(self, loss):
        self.counter += 1
        if self.counter % 10 == 0:
            self.progress.append(loss.item())
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()

    def train(self, inputs, targets):
        self.optimise(self.loss_function(self.forward(inputs), targets))


class Generator(Trainable):
    def train(self, D, inputs, targets):
        self.optimise(D.loss_function(D.forward(self.forward(inputs)), targets))


def classifier(kind):
    C = Trainable()
    if kind == "sgd":
        C.model = nn.Sequential(nn.Linear(784, 200), nn.Sigmoid(), nn.Linear(200, 10),
                                nn.Sigmoid())
        C.loss_function = nn.MSELoss()
        C.optimiser = torch.optim.SGD(C.parameters(), lr=0.01)
    else:
        C.model = nn.Sequential(nn.Linear(784, 200), nn.LeakyReLU(0.02), nn.LayerNorm(200),
                                nn.Linear(200, 10), nn.Sigmoid())
        C.loss_function = nn.BCELoss()
        C.optimiser = torch.optim.Adam(C.parameters())
    return C


def mnist_gan():
    D = Trainable()
    D.model = nn.Sequential(nn.Linear(784, 200), nn.LeakyReLU(0.02), nn.LayerNorm(200),
                            nn.Linear(200, 1), nn.Sigmoid())
    D.loss_function = nn.BCELoss()
    D.optimiser = torch.optim.Adam(D.parameters(), lr=0.0001)
    G = Generator()
    G.model = nn.Sequential(nn.Linear(100, 200), nn.LeakyReLU(0.02), nn.LayerNorm(200),
                            nn.Linear(200, 784), nn.Sigmoid())
    G.optimiser = torch.optim.Adam(G.parameters(), lr=0.0001)
    return D, G


def cnn():
    C = Trainable()
    C.model = nn.Sequential(
        nn.Conv2d(1, 10, kernel_size=5, stride=2), nn.LeakyReLU(0.02), nn.BatchNorm2d(10),
        nn.Conv2d(10, 10, kernel_size=3, stride=2), nn.LeakyReLU(0.02), nn.BatchNorm2d(10),
        View(250), nn.Linear(250, 10), nn.Sigmoid())
    C.loss_function = nn.BCELoss()
    C.optimiser = torch.optim.Adam(C.parameters())
    C.forward = lambda inputs: C.model(inputs.view(1, 1, 28, 28))
    return C


def fc_face_gan():
    n = 3 * 218 * 178
    D = Trainable()
    D.model = nn.Sequential(View(n), nn.Linear(n, 100), nn.LeakyReLU(), nn.LayerNorm(100),
                            nn.Linear(100, 1), nn.Sigmoid())
    D.loss_function = nn.BCELoss()
    D.optimiser = torch.optim.Adam(D.parameters(), lr=0.0001)
    G = Generator()
    G.model = nn.Sequential(nn.Linear(100, 3 * 10 * 10), nn.LeakyReLU(),
                            nn.LayerNorm(3 * 10 * 10), nn.Linear(3 * 10 * 10, n), nn.Sigmoid(),
                            View(218, 178, 3))
    G.optimiser = torch.optim.Adam(G.parameters(), lr=0.0001)
    return D, G


def conv_face_gan():
    D = Trainable()
    D.model = nn.Sequential(
        nn.Conv2d(3, 256, kernel_size=8, stride=2), nn.BatchNorm2d(256), nn.LeakyReLU(0.2),
        nn.Conv2d(256, 256, kernel_size=8, stride=2), nn.BatchNorm2d(256), nn.LeakyReLU(0.2),
        nn.Conv2d(256, 3, kernel_size=8, stride=2), nn.LeakyReLU(0.2),
        View(3 * 10 * 10), nn.Linear(3 * 10 * 10, 1), nn.Sigmoid())
    D.loss_function = nn.BCELoss()
    D.optimiser = torch.optim.Adam(D.parameters(), lr=0.0001)
    G = Generator()
    G.model = nn.Sequential(
        nn.Linear(100, 3 * 11 * 11), nn.LeakyReLU(0.2), View(1, 3, 11, 11),
        nn.ConvTranspose2d(3, 256, kernel_size=8, stride=2), nn.BatchNorm2d(256),
        nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(256, 256, kernel_size=8, stride=2), nn.BatchNorm2d(256),
        nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(256, 3, kernel_size=8, stride=2, padding=1), nn.BatchNorm2d(3),
        nn.Sigmoid())
    G.optimiser = torch.optim.Adam(G.parameters(), lr=0.0001)
    return D, G


def gan_iteration(D, G, image, seed_shape):
    """The book's loop body: D on real (1), D on detached fake (0), G through D (1)."""
    b = seed_shape[0] if len(seed_shape) == 2 else None
    real = torch.ones(b, 1) if b else torch.ones(1)
    fake = torch.zeros(b, 1) if b else torch.zeros(1)
    D.train(image, real)
    D.train(G.forward(torch.randn(seed_shape)).detach(), fake)
    G.train(D, torch.randn(seed_shape), real)


# ---------------------------------------------------------------------------- benches


def bench_classifier():
    images, targets, source = mnist(1000)
    for kind, name in (("sgd", "classifier SGD (03) step"),
                       ("adam", "classifier Adam (04 combined) step")):
        torch.manual_seed(0)
        C = classifier(kind)
        n = len(images)
        per, steps = time_steps(lambda i: C.train(images[i % n], targets[i % n]), 2000, 30, 100)
        emit(f"classifier_{kind}", name, per, steps, "ms per step", source)


def bench_gan():
    batch_images = 6400
    images, _, source = mnist(batch_images)
    torch.manual_seed(0)
    D, G = mnist_gan()
    n = len(images)
    per, steps = time_steps(lambda i: gan_iteration(D, G, images[i % n], (100,)), 100, 10, 100)
    emit("gan_iteration", "MNIST GAN iteration, per sample (08)", per, steps,
         "ms per iteration", source)
    for b in (32, 64, 128):
        count = 4 * b if QUICK else batch_images
        for k in range(4):  # warm-up, as bench/gan.ts
            gan_iteration(D, G, images[k * b:(k + 1) * b], (b, 100))
        t0 = time.perf_counter()
        batches = 0
        for start in range(0, count, b):
            chunk = images[start:start + b]
            gan_iteration(D, G, chunk, (len(chunk), 100))
            batches += 1
        seconds = time.perf_counter() - t0
        ms = seconds * 1000 / batches
        emit(f"gan_epoch_batch_{b}", f"MNIST GAN epoch, batch {b}", [ms], batches,
             "ms per batch iteration", source, epoch_s=seconds * 60_000 / count, batch=b)


def bench_cnn():
    images, targets, source = mnist(1000)
    torch.manual_seed(0)
    C = cnn()
    n = len(images)
    per, steps = time_steps(lambda i: C.train(images[i % n], targets[i % n]), 200, 20, 100)
    emit("cnn_step", "CNN classifier (13) step", per, steps, "ms per step", source,
         epoch_s=sorted(per)[len(per) // 2] * 60_000 / 1000)


def face_times(D, G, image, iters):
    gan_iteration(D, G, image, (100,))  # warm-up: gradients and optimiser state
    per = []
    for _ in range(iters):
        t0 = time.perf_counter()
        gan_iteration(D, G, image, (100,))
        per.append((time.perf_counter() - t0) * 1000)
    return per


def bench_faces():
    iters = 1 if QUICK else 3
    torch.manual_seed(2020)
    D, G = fc_face_gan()
    image = torch.rand(218, 178, 3)
    emit("face_fc_iteration", "face GAN iteration, fully connected (12)",
         face_times(D, G, image, iters), iters, "ms per iteration", "random")
    del D, G
    torch.manual_seed(2020)
    D, G = conv_face_gan()
    image = torch.rand(1, 3, 128, 128)
    emit("face_conv_iteration", "face GAN iteration, convolutional (14)",
         face_times(D, G, image, iters), iters, "ms per iteration", "random")


BENCHES = {"classifier": bench_classifier, "gan": bench_gan, "cnn": bench_cnn,
           "faces": bench_faces}


def main():
    wanted = [a for a in sys.argv[1:] if not a.startswith("-")] or list(BENCHES)
    unknown = [w for w in wanted if w not in BENCHES]
    if unknown:
        note(f"Unknown benchmark {', '.join(unknown)}: choose from {', '.join(BENCHES)}")
        return 2
    note(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), BLAS {BLAS}, "
         f"malloc {MALLOC}, transparent huge pages {THP}")
    if BLAS == "reference":
        note("reference BLAS (libblas3): gemv and gemm (notebook 14's transposed convolutions, "
             "batched GANs) run several times slower than with OpenBLAS "
             "(apt-get install libopenblas0-pthread)")
    if THP == "never" and "--stock-malloc" not in sys.argv:
        note("transparent huge pages are off: glibc.malloc.hugetlb=1 changes nothing, and large "
             "fresh tensors cost one page fault per 4 KiB")
    for w in wanted:
        BENCHES[w]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
