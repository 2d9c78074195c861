#!/usr/bin/python3
"""Notebook 14's convolutional face GAN in PyTorch, run step by step on a shared data file,
to compare its training dynamics with the library's (scripts/conv_gan_dynamics.ts).

The networks, losses, optimisers and loop are the book's notebook 14 exactly (with
`--features` for fewer feature maps than its 256; every spatial size stays). The real images
and generator seeds are not drawn here: scripts/conv_gan_dynamics.ts writes them
(`deno run ... scripts/conv_gan_dynamics.ts data --out DIR`), so both sides train on the same
numbers:

  DIR/images.f32  N x 128 x 128 x 3 float32 (little-endian, NHWC), synthetic faces 0..N-1
                  from lib/data/faces.ts, centre-cropped to 128x128 as notebook 14 crops
  DIR/seeds.f32   N x 2 x 100 float32: per iteration the seed of D's fake step, then G's
  DIR/probe.f32   100 float32: a fixed seed; G's output on it is summarised every 50 steps

Initial weights: `--save-init FILE` writes the weights PyTorch drew (torch.manual_seed
`--init-seed`) as FILE (float32, PyTorch layout) and FILE.json (keys, shapes, offsets);
`--init FILE` loads such a file instead. The TS side loads the same file, converting layouts
as tests/golden_test.ts does.

Output (`--out FILE.jsonl`): a first line {"meta": {...}}, then one line per iteration:
{"it", "d_real", "d_fake", "g"} (the three BCE losses of the book's loop), and every 50
iterations also "g_mean", "g_std" (G's output on the probe seed, after that iteration).

  /usr/bin/python3 scripts/pytorch_conv_gan_run.py --data DIR --features 32 --iters 400 \\
      --save-init DIR/init_f32.bin --out DIR/pytorch_f32.jsonl
  /usr/bin/python3 scripts/pytorch_conv_gan_run.py --compare A.jsonl B.jsonl

`--dtype float64` runs in float64 from the same float32 numbers (the float-noise baseline);
`--noise SIGMA` adds N(0, SIGMA^2) noise (clamped to 0..1) to every real image (a harder
stand-in for real photos); `--count N` trains on the first N faces only, cycling through them.
Long runs: `--torch-seeds S` draws G's seeds with torch.randn (not from seeds.f32, so any
number of iterations), `--resume FILE --stop-after SECONDS` runs in sittings (networks, Adam
states and generators saved to FILE), `--save-output FILE` writes G's images at the end.

Reports: `--compare A B` (differences between two runs, per quantity and span), `--summary
RUN...` (how fast D wins), `--windows RUN...` (mean losses over 100-iteration windows, and the
losses as the book's charts sample them), `--data DIR --image-stats FILE...` (checkerboard and
face measures of saved images), `--grid OUT.png|jpg FILE... --take K --cols C` (a picture of
saved images).
docs/conv_gan_dynamics.md has the commands and results.
"""
import argparse
import json
import os
import sys
import time

import numpy
import torch
from torch import nn

SEED_SIZE = 100
CROP = 128
PROBE_EVERY = 50


class View(nn.Module):
    """The book's View module."""

    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.view(self.shape)


class Discriminator(nn.Module):
    """Notebook 14's discriminator (book: 256 feature maps)."""

    def __init__(self, f=256):
        super().__init__()
        self.model = nn.Sequential(
            # expect input of shape (1,3,128,128)
            nn.Conv2d(3, f, kernel_size=8, stride=2),
            nn.BatchNorm2d(f),
            nn.LeakyReLU(0.2),
            nn.Conv2d(f, f, kernel_size=8, stride=2),
            nn.BatchNorm2d(f),
            nn.LeakyReLU(0.2),
            nn.Conv2d(f, 3, kernel_size=8, stride=2),
            nn.LeakyReLU(0.2),
            View(3 * 10 * 10),
            nn.Linear(3 * 10 * 10, 1),
            nn.Sigmoid(),
        )
        self.loss_function = nn.BCELoss()
        self.optimiser = torch.optim.Adam(self.parameters(), lr=0.0001)

    def forward(self, inputs):
        return self.model(inputs)

    def train(self, inputs, targets):  # the book's name; it shadows nn.Module.train
        outputs = self.forward(inputs)
        loss = self.loss_function(outputs, targets)
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()
        return loss.item()


class Generator(nn.Module):
    """Notebook 14's generator (book: 256 feature maps)."""

    def __init__(self, f=256):
        super().__init__()
        self.model = nn.Sequential(
            # input is a 1d array
            nn.Linear(100, 3 * 11 * 11),
            nn.LeakyReLU(0.2),
            # reshape to 4d
            View((1, 3, 11, 11)),
            nn.ConvTranspose2d(3, f, kernel_size=8, stride=2),
            nn.BatchNorm2d(f),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(f, f, kernel_size=8, stride=2),
            nn.BatchNorm2d(f),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(f, 3, kernel_size=8, stride=2, padding=1),
            nn.BatchNorm2d(3),
            # output should be (1,3,128,128)
            nn.Sigmoid(),
        )
        self.optimiser = torch.optim.Adam(self.parameters(), lr=0.0001)

    def forward(self, inputs):
        return self.model(inputs)

    def train(self, D, inputs, targets):  # the book's name, as in Discriminator
        g_output = self.forward(inputs)
        d_output = D.forward(g_output)
        loss = D.loss_function(d_output, targets)
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()
        return loss.item()


def state_keys(D, G):
    out = []
    for who, m in (("D", D), ("G", G)):
        for k, v in m.model.state_dict().items():
            if not k.endswith("num_batches_tracked"):
                out.append((f"{who}/{k}", v))
    return out


def save_init(D, G, path):
    entries, offset = [], 0
    with open(path, "wb") as f:
        for key, v in state_keys(D, G):
            a = v.detach().to(torch.float32).contiguous().numpy().astype("<f4")
            f.write(a.tobytes())
            entries.append({"key": key, "shape": list(v.shape), "offset": offset})
            offset += a.size
    manifest = {
        "format": "float32 little-endian, PyTorch layout (Conv2d OIHW, ConvTranspose2d IOHW, "
        "Linear [out, in]); offset in elements",
        "generator": "scripts/pytorch_conv_gan_run.py, torch %s" % torch.__version__,
        "tensors": entries,
    }
    with open(path + ".json", "w") as f:
        json.dump(manifest, f, indent=1)


def load_init(D, G, path):
    with open(path + ".json") as f:
        manifest = json.load(f)
    flat = numpy.fromfile(path, dtype="<f4")
    by_key = {e["key"]: e for e in manifest["tensors"]}
    with torch.no_grad():
        for key, v in state_keys(D, G):
            e = by_key[key]
            n = int(numpy.prod(e["shape"])) if e["shape"] else 1
            a = flat[e["offset"]:e["offset"] + n].reshape(e["shape"])
            v.copy_(torch.from_numpy(a.copy()))


def read_f32(path, shape):
    a = numpy.fromfile(path, dtype="<f4")
    n = int(numpy.prod(shape[1:]))
    return a[: (a.size // n) * n].reshape((-1, *shape[1:]))


def run(args):
    torch.set_num_threads(args.threads)
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    with open(os.path.join(args.data, "meta.json")) as f:
        meta_in = json.load(f)
    images = read_f32(os.path.join(args.data, "images.f32"), (None, CROP, CROP, 3))
    seeds = read_f32(os.path.join(args.data, "seeds.f32"), (None, 2, SEED_SIZE))
    probe = numpy.fromfile(os.path.join(args.data, "probe.f32"), dtype="<f4")
    iters = args.iters or len(seeds)
    count = args.count or len(images)
    if (iters > len(seeds) and not args.torch_seeds) or count > len(images):
        sys.exit(f"{args.data} holds {len(images)} images and {len(seeds)} seed pairs: "
                 f"make more with conv_gan_dynamics.ts data --iters {max(iters, count)}")

    torch.manual_seed(args.init_seed)
    D = Discriminator(args.features)
    G = Generator(args.features)
    if args.init:
        load_init(D, G, args.init)
    if args.save_init:
        save_init(D, G, args.save_init)
    D.to(dtype)
    G.to(dtype)
    noise_gen = torch.Generator().manual_seed(args.noise_seed)
    seed_gen = torch.Generator().manual_seed(args.torch_seeds or 0)
    first = 0
    if args.resume and os.path.exists(args.resume):
        ck = torch.load(args.resume)
        D.load_state_dict(ck["D"])
        G.load_state_dict(ck["G"])
        D.optimiser.load_state_dict(ck["oD"])
        G.optimiser.load_state_dict(ck["oG"])
        noise_gen.set_state(ck["noise_gen"])
        seed_gen.set_state(ck["seed_gen"])
        first = ck["done"]

    probe_t = torch.from_numpy(probe.copy()).to(dtype)

    def probe_stats():
        with torch.no_grad():
            out = G.forward(probe_t)
        return float(out.mean()), float(out.std())

    m0, s0 = probe_stats()
    meta = {
        "side": "pytorch", "torch": torch.__version__, "dtype": args.dtype,
        "threads": args.threads, "features": args.features, "iterations": iters,
        "images": count, "noise": args.noise, "init": args.init or args.save_init or None,
        "init_seed": args.init_seed, "data": meta_in, "g_mean_start": m0, "g_std_start": s0,
    }
    ones = torch.ones(1, dtype=dtype)
    zeros = torch.zeros(1, dtype=dtype)
    start = time.time()
    done = first
    with open(args.out, "a" if first else "w") as out:
        if not first:
            out.write(json.dumps({"meta": meta}) + "\n")
        for it in range(first, iters):
            if args.stop_after and time.time() - start > args.stop_after:
                break
            # the book's getitem: permute(2,0,1).view(1,3,128,128)
            img = torch.from_numpy(images[it % count].copy()).to(dtype)
            if args.noise > 0:
                n = torch.randn(img.shape, generator=noise_gen).to(dtype)
                img = (img + args.noise * n).clamp(0, 1)
            image = img.permute(2, 0, 1).view(1, 3, CROP, CROP)
            if args.torch_seeds:
                sa = torch.randn(SEED_SIZE, generator=seed_gen).to(dtype)
                sb = torch.randn(SEED_SIZE, generator=seed_gen).to(dtype)
            else:
                sa = torch.from_numpy(seeds[it, 0].copy()).to(dtype)
                sb = torch.from_numpy(seeds[it, 1].copy()).to(dtype)
            # the book's loop
            d_real = D.train(image, ones)
            d_fake = D.train(G.forward(sa).detach(), zeros)
            g = G.train(D, sb, ones)
            row = {"it": it, "d_real": d_real, "d_fake": d_fake, "g": g}
            if (it + 1) % PROBE_EVERY == 0:
                row["g_mean"], row["g_std"] = probe_stats()
            out.write(json.dumps(row) + "\n")
            done = it + 1
            if args.verbose and (it + 1) % 50 == 0:
                el = time.time() - start
                print(f"{it + 1}/{iters} {el / (done - first):.3f} s/it d_real {d_real:.3g} "
                      f"d_fake {d_fake:.3g} g {g:.3g}", flush=True)
    if args.resume:
        torch.save({"D": D.state_dict(), "G": G.state_dict(), "oD": D.optimiser.state_dict(),
                    "oG": G.optimiser.state_dict(), "noise_gen": noise_gen.get_state(),
                    "seed_gen": seed_gen.get_state(), "done": done}, args.resume)
        if done < iters:
            print(f"stopped after {done} of {iters} iterations: rerun to resume")
    if args.save_output:
        # G on the probe and 5 more fixed seeds: [6, 128, 128, 3] float32
        more = torch.randn(5, SEED_SIZE, generator=torch.Generator().manual_seed(123))
        with torch.no_grad():
            imgs = [G.forward(z.to(dtype)).reshape(3, CROP, CROP).permute(1, 2, 0)
                    for z in [probe_t, *more]]
        torch.stack(imgs).to(torch.float32).numpy().astype("<f4").tofile(args.save_output)
    print(f"{args.out}: iterations {first}-{done} in {time.time() - start:.1f} s")


# ---------------------------------------------------------------------------- comparing


def load_jsonl(path):
    meta, rows = None, []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            if "meta" in d:
                meta = d["meta"]
            else:
                rows.append(d)
    return meta, rows


def first_iter(diffs, threshold):
    for i, d in enumerate(diffs):
        if d > threshold:
            return i
    return None


def compare(a_path, b_path, windows=(0, 10, 50, 100, 200, 300, 500, 1000, 2000)):
    """Differences between two runs, per quantity and over windows of iterations."""
    _, a = load_jsonl(a_path)
    _, b = load_jsonl(b_path)
    n = min(len(a), len(b))
    report = {"a": a_path, "b": b_path, "iterations": n, "quantities": {}}
    for q in ("d_real", "d_fake", "g"):
        x = numpy.array([r[q] for r in a[:n]], dtype=numpy.float64)
        y = numpy.array([r[q] for r in b[:n]], dtype=numpy.float64)
        d = numpy.abs(x - y)
        # relative to the size of the loss, so a loss of 1e-5 is compared at its own scale
        rel = d / numpy.maximum(numpy.maximum(numpy.abs(x), numpy.abs(y)), 1e-12)
        ws = [w for w in windows if w < n] + [n]
        spans = []
        for lo, hi in zip(ws[:-1], ws[1:]):
            spans.append({"from": lo, "to": hi, "max_abs": float(d[lo:hi].max()),
                          "mean_abs": float(d[lo:hi].mean()), "max_rel": float(rel[lo:hi].max()),
                          "mean_a": float(x[lo:hi].mean()), "mean_b": float(y[lo:hi].mean())})
        report["quantities"][q] = {
            "max_abs": float(d.max()), "mean_abs": float(d.mean()),
            "first_rel_over_1e-4": first_iter(rel, 1e-4),
            "first_rel_over_1e-2": first_iter(rel, 1e-2),
            "first_rel_over_0.1": first_iter(rel, 0.1),
            "spans": spans,
        }
    probes = [(ra["it"], ra["g_mean"], rb["g_mean"], ra["g_std"], rb["g_std"])
              for ra, rb in zip(a[:n], b[:n]) if "g_mean" in ra and "g_mean" in rb]
    report["probe"] = [{"it": p[0], "g_mean_a": p[1], "g_mean_b": p[2], "g_std_a": p[3],
                        "g_std_b": p[4]} for p in probes]
    return report


def print_compare(rep):
    print(f"A = {rep['a']}\nB = {rep['b']}\n{rep['iterations']} iterations")
    for q, r in rep["quantities"].items():
        print(f"  {q}: max |A-B| {r['max_abs']:.3g}, mean {r['mean_abs']:.3g}; first iteration "
              f"with relative difference > 1e-4: {r['first_rel_over_1e-4']}, > 1e-2: "
              f"{r['first_rel_over_1e-2']}, > 0.1: {r['first_rel_over_0.1']}")
        for s in r["spans"]:
            print(f"    it {s['from']:>5}-{s['to']:<5} max |A-B| {s['max_abs']:9.3g}  mean "
                  f"{s['mean_abs']:9.3g}  max rel {s['max_rel']:9.3g}  mean A {s['mean_a']:9.4g}"
                  f"  mean B {s['mean_b']:9.4g}")
    for p in rep["probe"]:
        print(f"  probe after it {p['it']:>5}: mean {p['g_mean_a']:.5f} / {p['g_mean_b']:.5f}, "
              f"std {p['g_std_a']:.5f} / {p['g_std_b']:.5f}")


def windows(path, starts=(0, 50, 100, 250, 500, 900, 1900, 3900, 7900, 9900, 19900)):
    """Mean d_real, d_fake and g over the 100 iterations from each start and over the whole
    run, and the losses as the book's progress charts sample them: D's counter counts both D
    calls of an iteration and keeps every 10th loss, which is always a fake-image loss (every
    5th iteration); G keeps every 10th. Quartiles of those samples over the first 1,000
    iterations and over the run."""
    _, rows = load_jsonl(path)
    q = {k: numpy.array([r[k] for r in rows]) for k in ("d_real", "d_fake", "g")}
    n = len(rows)
    out = {"run": path, "iterations": n, "means": []}
    spans = [(s, s + 100) for s in starts if s + 100 <= n] + [(0, n)]
    for lo, hi in spans:
        out["means"].append({"from": lo, "to": hi, **{
            k: round(float(v[lo:hi].mean()), 4) for k, v in q.items()}})
    it = numpy.arange(n)

    def quartiles(x, digits):
        if not len(x):
            return None
        return [round(float(v), digits) for v in numpy.quantile(x, (.25, .5, .75))]

    for name, hi in (("first_1000", min(n, 1000)), ("all", n)):
        d = q["d_fake"][:hi][(it[:hi] + 1) % 5 == 0]
        g = q["g"][:hi][(it[:hi] + 1) % 10 == 0]
        out["book_sampled_" + name] = {
            "d_fake_quartiles": quartiles(d, 4),
            "d_fake_share_over_1": round(float((d > 1).mean()), 4) if len(d) else None,
            "g_quartiles": quartiles(g, 3)}
    return out


def summary(path):
    """How fast D wins: the first iteration where the mean of D's two losses over the last 20
    iterations falls below 0.1, 0.01, 0.001, and median losses over spans of iterations."""
    _, rows = load_jsonl(path)
    d = numpy.array([r["d_real"] + r["d_fake"] for r in rows])
    g = numpy.array([r["g"] for r in rows])
    mean20 = numpy.convolve(d, numpy.ones(20) / 20, mode="valid")  # [k]: mean of d[k:k+20]

    def first(t):
        return next((k + 19 for k, v in enumerate(mean20) if v < t), None)

    out = {"run": path, "iterations": len(d), "D_mean20_below": {
        "0.1": first(0.1), "0.01": first(0.01), "0.001": first(1e-3)}, "spans": []}
    edges = [0, 100, 200, 300, 500, 1000, 2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000,
             18000, 20000]
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi <= len(d):
            out["spans"].append({"from": lo, "to": hi, "median_D": float(numpy.median(d[lo:hi])),
                                 "median_G": float(numpy.median(g[lo:hi]))})
    return out


def image_stats(path, data):
    """Checkerboard and face measures of a [k, 128, 128, 3] float32 file of G's images:
    hf, the share of each image's variance left after subtracting its 2x2 box average (high
    frequencies: the transposed convolutions' checkerboard), and corr, the correlation with
    the mean of the first 500 real faces in `data`."""
    real = read_f32(os.path.join(data, "images.f32"), (None, CROP, CROP, 3))[:500]
    mean_face = real.mean(0)

    def hf(x):
        b = (x[:-1, :-1] + x[1:, :-1] + x[:-1, 1:] + x[1:, 1:]) / 4
        return float(((x[:-1, :-1] - b) ** 2).mean() / x.var())

    def corr(a, b):
        a, b = a - a.mean(), b - b.mean()
        return float((a * b).sum() / numpy.sqrt((a * a).sum() * (b * b).sum()))

    imgs = real[:50] if path == "real" else read_f32(path, (None, CROP, CROP, 3))
    return {"images": path, "hf": float(numpy.mean([hf(x) for x in imgs])),
            "corr_mean_face": float(numpy.mean([corr(x, mean_face) for x in imgs])),
            "mean": float(imgs.mean()), "std": float(imgs.std())}


def grid(out_png, files, take, cols):
    """A PNG (or .jpg) of the first `take` images of each --save-output file, in reading
    order, `cols` to a row, 2 white pixels apart (needs PIL)."""
    from PIL import Image
    imgs = [im for f in files for im in read_f32(f, (None, CROP, CROP, 3))[:take]]
    rows = -(-len(imgs) // cols)
    gap = 2
    g = numpy.full((rows * (CROP + gap) - gap, cols * (CROP + gap) - gap, 3), 255, numpy.uint8)
    for k, im in enumerate(imgs):
        r, c = divmod(k, cols)
        y, x = r * (CROP + gap), c * (CROP + gap)
        g[y:y + CROP, x:x + CROP] = (im.clip(0, 1) * 255).round().astype(numpy.uint8)
    if out_png.endswith(".jpg"):
        Image.fromarray(g).save(out_png, quality=90)
    else:
        Image.fromarray(g).save(out_png, optimize=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="folder written by conv_gan_dynamics.ts data")
    p.add_argument("--features", type=int, default=256, help="feature maps (book: 256)")
    p.add_argument("--iters", type=int, default=0, help="iterations (default: all seeds)")
    p.add_argument("--count", type=int, default=0, help="images to cycle through (default all)")
    p.add_argument("--init", help="load initial weights from this file")
    p.add_argument("--save-init", help="write the initial weights to this file")
    p.add_argument("--init-seed", type=int, default=0, help="torch.manual_seed for the init")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--noise", type=float, default=0.0, help="noise std added to real images")
    p.add_argument("--noise-seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--torch-seeds", type=int, default=0,
                   help="draw G's seeds with torch.randn from this seed, not seeds.f32")
    p.add_argument("--resume", help="checkpoint file: resumed from if present, saved at the end")
    p.add_argument("--stop-after", type=float, default=0, help="stop after this many seconds")
    p.add_argument("--out", help="per-iteration losses, jsonl")
    p.add_argument("--save-output", help="write G(probe) as 128x128x3 float32 here at the end")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two jsonl runs")
    p.add_argument("--json", action="store_true", help="with --compare: print JSON")
    p.add_argument("--summary", nargs="+", metavar="RUN", help="how fast D wins in each run")
    p.add_argument("--windows", nargs="+", metavar="RUN",
                   help="mean losses over 100-iteration windows, and as the book samples them")
    p.add_argument("--image-stats", nargs="+", metavar="FILE",
                   help="checkerboard/face measures of --save-output files ('real': real faces)")
    p.add_argument("--grid", nargs="+", metavar=("PNG", "FILE"),
                   help="tile --save-output files into PNG (see --take, --cols)")
    p.add_argument("--take", type=int, default=3, help="with --grid: images per file")
    p.add_argument("--cols", type=int, default=6, help="with --grid: images per row")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    if args.compare:
        rep = compare(*args.compare)
        if args.json:
            print(json.dumps(rep, indent=1))
        else:
            print_compare(rep)
        return 0
    if args.grid:
        grid(args.grid[0], args.grid[1:], args.take, args.cols)
        return 0
    if args.summary:
        for path in args.summary:
            print(json.dumps(summary(path)))
        return 0
    if args.windows:
        for path in args.windows:
            print(json.dumps(windows(path)))
        return 0
    if args.image_stats:
        for path in args.image_stats:
            print(json.dumps(image_stats(path, args.data)))
        return 0
    if not args.data or not args.out:
        p.error("--data and --out are needed (or --compare A B)")
    torch.use_deterministic_algorithms(True)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
