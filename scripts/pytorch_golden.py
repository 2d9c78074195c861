#!/usr/bin/python3
"""Golden fixtures from PyTorch itself, for tests/golden_test.ts.

Run with Debian's python3-torch (1.13): `deno task golden`, i.e.
`/usr/bin/python3 scripts/pytorch_golden.py`. It writes one JSON file per case to
tests/fixtures/golden/ (and removes stale ones there): the starting weights and inputs it
drew from seeded generators, and what PyTorch computes from them in float32 on one thread:
outputs, input and weight gradients, weights after optimiser steps, losses, BatchNorm
running statistics. The TypeScript test loads the very same numbers, so it never needs
PyTorch.

Tensor encoding: {"shape": [...], "data": [numbers]} for short tensors, or
{"shape": [...], "b64": "..."} (little-endian float32 bytes, base64) for longer ones.
Both are exact float32 values. Every tensor is in PyTorch's layout; "layout" names the
conversion the TS side must apply explicitly (see LAYOUTS, also written into each file).

Float32 determinacy: every case is also run in float64 from the same float32 starting
numbers. Elements where PyTorch's own float32 result is further from the float64 result
than half the case's tolerance are not determined by float32 arithmetic (e.g. Adam
normalising a gradient that is exactly zero in exact arithmetic: the bias of a
convolution followed by BatchNorm); their flat indices are listed in "skip" and the test
does not compare them. The test checks that such elements stay rare.
"""
import base64
import json
import os
import re
import struct
import sys

import torch
from torch import nn

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "golden")

LAYOUTS = {
    "NCHW": "PyTorch image batch [N, C, H, W]; the library's images are NHWC: "
    "transpose with perm [0, 2, 3, 1]",
    "OIHW": "nn.Conv2d weight [out, in, kh, kw]; the library's Conv2d weight (TF.js conv2d "
    "filter) is [kh, kw, in, out]: transpose with perm [2, 3, 1, 0]",
    "IOHW": "nn.ConvTranspose2d weight [in, out, kh, kw]; the library's ConvTranspose2d weight "
    "(TF.js conv2dTranspose filter) is [kh, kw, out, in]: transpose with perm [2, 3, 1, 0]",
    "cols:C,H,W": "(C, H, W given) nn.Linear weight [out, C*H*W] reading a View of NCHW maps, "
    "flattened in (c, h, w) order; the library flattens NHWC maps in (h, w, c) order: reshape to "
    "[out, C, H, W], transpose [0, 2, 3, 1], reshape to [out, C*H*W]",
    "rows:C,H,W": "(C, H, W given) nn.Linear weight [C*H*W, in] or bias [C*H*W] whose output a "
    "View turns into NCHW maps; the library's View makes NHWC maps, so rows go to (h, w, c) "
    "order: reshape to [C, H, W, in], transpose [1, 2, 0, 3], reshape back",
    "(none)": "no conversion: Linear weights [out, in], vectors, batches [N, features]",
}

DEFAULT_TOL = {"atol": 1e-5, "rtol": 1e-5}


# ---------------------------------------------------------------------------- encoding


def enc(t, layout=None, skip=None):
    t = t.detach().to(torch.float32).contiguous().cpu()
    flat = t.reshape(-1).tolist()
    d = {"shape": list(t.shape)}
    if layout:
        d["layout"] = layout
    if len(flat) <= 8:
        d["data"] = [float("%.9g" % v) for v in flat]
    elif len(flat) > 64 and all(0 <= v < 1 and (v * 256).is_integer() for v in flat):
        # pixel-like inputs drawn as k/256: one byte each, exact
        d["u8_over_256"] = base64.b64encode(bytes(int(v * 256) for v in flat)).decode("ascii")
    else:
        d["b64"] = base64.b64encode(struct.pack("<%df" % len(flat), *flat)).decode("ascii")
    if skip:
        d["skip"] = skip
    return d


def dumps(obj):
    """json.dumps with indent 2, short lists of numbers on one line: what deno fmt keeps."""
    text = json.dumps(obj, indent=2)

    def one_line(m):
        items = [x.strip() for x in m.group(1).split(",") if x.strip()]
        line = "[" + ", ".join(items) + "]"
        start = text.rfind("\n", 0, m.start()) + 1
        # the line also holds its key before and maybe a comma after
        return line if m.start() - start + len(line) + 1 <= 100 else m.group(0)

    return re.sub(r"\[\s*([-0-9.e+,\s]*?)\s*\]", one_line, text)


def undetermined(t32, t64, tol):
    """Flat indices where float32 PyTorch is off float64 PyTorch by more than tol / 2."""
    a = t32.detach().double().reshape(-1)
    b = t64.detach().double().reshape(-1)
    bad = (a - b).abs() > 0.5 * (tol["atol"] + tol["rtol"] * b.abs())
    return [int(i) for i in torch.nonzero(bad).reshape(-1).tolist()]


def write_case(name, description, config, init, run, layouts=None, tol=None):
    """init: name -> float32 tensor; run(T, dtype) -> dict name -> tensor (expected values)."""
    tol = tol or DEFAULT_TOL
    layouts = layouts or {}
    init = {k: v.detach().to(torch.float32).clone() for k, v in init.items()}
    exp32 = run({k: v.clone() for k, v in init.items()}, torch.float32)
    exp64 = run({k: v.double() for k, v in init.items()}, torch.float64)
    # Snapshots "<stage>/<net>/<key>": keep only tensors that changed in the stage (in
    # float32 or float64); the test checks that the others did not change.
    last32 = {k: v for k, v in init.items()}
    last64 = {k: v.double() for k, v in init.items()}
    for k in list(exp32):
        if k.count("/") != 2:
            continue
        key = k.split("/", 1)[1]
        same = key in last32 and torch.equal(last32[key], exp32[k]) and torch.equal(
            last64[key], exp64[k])
        last32[key], last64[key] = exp32[k], exp64[k]
        if same:
            del exp32[k]
    expected = {}
    skipped = 0
    for k, v in exp32.items():
        skip = undetermined(v, exp64[k], tol)
        skipped += len(skip)
        expected[k] = enc(v, layouts.get(k), skip)
    fixture = {
        "name": name,
        "description": description,
        "generator": "scripts/pytorch_golden.py, torch %s, float32, 1 thread" % torch.__version__,
        # tensors without a "layout" need no conversion; say so where others do
        "layouts": {
            **({"(none)": LAYOUTS["(none)"]} if layouts else {}),
            **{k: LAYOUTS[re.sub(r":.*", ":C,H,W", k)] for k in sorted({*layouts.values()})},
        },
        "tolerance": tol,
        "skipped": skipped,
        "config": config,
        "init": {k: enc(v, layouts.get(k)) for k, v in init.items()},
        "expected": expected,
    }
    path = os.path.join(OUT, name + ".json")
    with open(path, "w") as f:
        f.write(dumps(fixture) + "\n")
    return path


def gen(seed):
    return torch.Generator().manual_seed(seed)


def pixels(shape, g):
    """Uniform pixel values k/256 in [0, 1): exact in float32 and stored as one byte each."""
    return torch.randint(0, 256, shape, generator=g).float() / 256


# ---------------------------------------------------------------------------- networks


class View(nn.Module):
    """The book's View module."""

    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.view(*self.shape)


def build(spec):
    """nn.Sequential from the layer specs the fixture stores (the TS test reads the same)."""
    layers = []
    for s in spec:
        t, a = s["type"], s.get("args", [])
        if t == "Linear":
            layers.append(nn.Linear(*a))
        elif t == "Sigmoid":
            layers.append(nn.Sigmoid())
        elif t == "LeakyReLU":
            layers.append(nn.LeakyReLU(*a))
        elif t == "GELU":
            layers.append(nn.GELU())
        elif t == "LayerNorm":
            layers.append(nn.LayerNorm(*a))
        elif t == "BatchNorm2d":
            layers.append(nn.BatchNorm2d(*a))
        elif t == "Conv2d":
            layers.append(nn.Conv2d(*a, stride=s.get("stride", 1), padding=s.get("padding", 0)))
        elif t == "ConvTranspose2d":
            layers.append(
                nn.ConvTranspose2d(*a, stride=s.get("stride", 1), padding=s.get("padding", 0))
            )
        elif t == "View":
            layers.append(View(*a))
        else:
            raise ValueError(t)
    return nn.Sequential(*layers)


def state(m):
    """Parameters and BatchNorm running statistics (no num_batches_tracked)."""
    return {k: v for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}


def layouts_of(spec, prefix=""):
    """Layout of each state tensor of build(spec), by state_dict key."""
    out = {}
    for i, s in enumerate(spec):
        t = s["type"]
        if t == "Conv2d":
            out[f"{prefix}{i}.weight"] = "OIHW"
        elif t == "ConvTranspose2d":
            out[f"{prefix}{i}.weight"] = "IOHW"
        elif t == "Linear" and "in_chw" in s:
            out[f"{prefix}{i}.weight"] = "cols:" + ",".join(map(str, s["in_chw"]))
        elif t == "Linear" and "out_chw" in s:
            out[f"{prefix}{i}.weight"] = "rows:" + ",".join(map(str, s["out_chw"]))
            out[f"{prefix}{i}.bias"] = "rows:" + ",".join(map(str, s["out_chw"]))
    return out


def randomize_norms(m, g):
    """LayerNorm/BatchNorm start at weight 1, bias 0; perturb them so their gradients show."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.LayerNorm, nn.BatchNorm2d)):
                mod.weight.copy_(1 + 0.3 * torch.randn(mod.weight.shape, generator=g))
                mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=g))


def load(m, T, prefix, dtype):
    m.to(dtype)
    sd = m.state_dict()
    with torch.no_grad():
        for k in state(m):
            sd[k].copy_(T[prefix + k])
    return m


# ---------------------------------------------------------------------------- layers


def layer_case(name, description, spec, x, g, x_layout=None, tol=None, sgd_lr=0.1, train=True):
    """One module: y = m(x), backward from the upstream gradient g (loss = sum(y * g)),
    then one SGD(lr) step. Expected: y, dx, <param>.grad, <param>.after, <buffer>.after."""
    torch.manual_seed(1000 + len(name))
    m = build([spec])
    randomize_norms(m, gen(7))
    if isinstance(m[0], nn.BatchNorm2d):
        with torch.no_grad():
            m[0].running_mean.copy_(0.2 * torch.randn(m[0].running_mean.shape, generator=gen(8)))
            m[0].running_var.copy_(0.5 + torch.rand(m[0].running_var.shape, generator=gen(9)))
    init = {"x": x, "g": g}
    init.update({k.split(".", 1)[1]: v for k, v in state(m).items()})
    lay_params = {k.split(".", 1)[1]: v for k, v in layouts_of([spec]).items()}
    layouts = {"x": x_layout, "g": x_layout if spec["type"] != "View" else None,
               "y": x_layout if spec["type"] != "View" else None, "dx": x_layout}
    layouts.update(lay_params)
    for k, v in lay_params.items():
        layouts[k + ".grad"] = v
        layouts[k + ".after"] = v
    if spec["type"] in ("Conv2d", "ConvTranspose2d"):
        layouts["g"] = layouts["y"] = "NCHW"
    layouts = {k: v for k, v in layouts.items() if v}

    def run(T, dtype):
        mm = build([spec])
        mm = load(mm, {"0." + k: v for k, v in T.items()}, "", dtype)
        mm.train(train)
        xx = T["x"].clone().requires_grad_(True)
        y = mm(xx)
        y.backward(T["g"])
        out = {"y": y, "dx": xx.grad}
        params = dict(mm[0].named_parameters())
        for k, p in params.items():
            out[k + ".grad"] = p.grad.clone()
        if params:
            torch.optim.SGD(mm.parameters(), lr=sgd_lr).step()
            for k, p in params.items():
                out[k + ".after"] = p.detach().clone()
        for k, b in mm[0].named_buffers():
            if not k.endswith("num_batches_tracked"):
                out[k + ".after"] = b.clone()
        return out

    config = {"kind": "layer", "module": spec, "train": train, "sgd_lr": sgd_lr,
              "upstream": "y.backward(g), i.e. loss = sum(y * g)"}
    return write_case(name, description, config, init, run, layouts, tol)


def layers():
    g = gen(1)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    paths = []
    paths.append(layer_case("linear_sample", "Linear(5, 3) on one sample [5] (the book's batch 1)",
                            {"type": "Linear", "args": [5, 3]}, r(5), r(3)))
    paths.append(layer_case("linear_batch", "Linear(5, 3) on a batch [4, 5]",
                            {"type": "Linear", "args": [5, 3]}, r(4, 5), r(4, 3)))
    xs = torch.cat([r(9) * 3, torch.tensor([-20.0, 20.0, 0.0])])
    paths.append(layer_case("sigmoid", "Sigmoid on [12], with saturating inputs +-20",
                            {"type": "Sigmoid"}, xs, r(12)))
    for slope, tag in ((0.02, "0_02"), (0.2, "0_2"), (None, "default")):
        spec = {"type": "LeakyReLU", "args": [] if slope is None else [slope]}
        what = "PyTorch's default slope 0.01" if slope is None else f"slope {slope}"
        x = r(2, 6)
        x[0, 0] = 0.0  # PyTorch's gradient at exactly 0 is the slope's
        paths.append(layer_case(f"leaky_relu_{tag}", f"LeakyReLU with {what} on [2, 6], one "
                                "input exactly 0", spec, x, r(2, 6)))
    xg = torch.cat([torch.linspace(-4, 4, 9), r(7)])
    paths.append(layer_case("gelu", "GELU (exact erf form) on [16]", {"type": "GELU"}, xg, r(16)))
    paths.append(layer_case("layer_norm_sample", "LayerNorm(8) on one sample [8], random affine",
                            {"type": "LayerNorm", "args": [8]}, r(8) * 2 + 1, r(8)))
    paths.append(layer_case("layer_norm_batch", "LayerNorm(8) on a batch [3, 8], random affine",
                            {"type": "LayerNorm", "args": [8]}, r(3, 8) * 2 + 1, r(3, 8)))
    paths.append(layer_case(
        "batch_norm_train_b1", "BatchNorm2d(3) in training mode on a batch of 1 [1, 3, 4, 5] "
        "(the book's batch 1): batch statistics, running statistics updated (unbiased var)",
        {"type": "BatchNorm2d", "args": [3]}, r(1, 3, 4, 5) * 2 + 0.5, r(1, 3, 4, 5), "NCHW"))
    paths.append(layer_case(
        "batch_norm_train_b2", "BatchNorm2d(3) in training mode on [2, 3, 3, 3]",
        {"type": "BatchNorm2d", "args": [3]}, r(2, 3, 3, 3) - 0.3, r(2, 3, 3, 3), "NCHW"))
    paths.append(layer_case(
        "batch_norm_eval", "BatchNorm2d(3) in evaluation mode (running statistics) on [2, 3, 3, 2]",
        {"type": "BatchNorm2d", "args": [3]}, r(2, 3, 3, 2), r(2, 3, 3, 2), "NCHW", train=False))
    conv_tol = {"atol": 2e-5, "rtol": 1e-5}
    paths.append(layer_case(
        "conv2d_k5_s2", "Conv2d(1, 3, kernel 5, stride 2) on [1, 1, 13, 13] -> [1, 3, 5, 5] "
        "(notebook 13's first layer, fewer maps)",
        {"type": "Conv2d", "args": [1, 3, 5], "stride": 2}, pixels((1, 1, 13, 13), g),
        r(1, 3, 5, 5), "NCHW", conv_tol))
    paths.append(layer_case(
        "conv2d_k3_s2", "Conv2d(2, 2, kernel 3, stride 2) on [2, 2, 7, 7] -> [2, 2, 3, 3] "
        "(notebook 13's second layer, fewer maps, batch 2)",
        {"type": "Conv2d", "args": [2, 2, 3], "stride": 2}, r(2, 2, 7, 7), r(2, 2, 3, 3), "NCHW",
        conv_tol))
    paths.append(layer_case(
        "conv2d_k8_s2", "Conv2d(3, 2, kernel 8, stride 2) on [1, 3, 14, 14] -> [1, 2, 4, 4] "
        "(notebook 14's discriminator layers, fewer maps)",
        {"type": "Conv2d", "args": [3, 2, 8], "stride": 2}, pixels((1, 3, 14, 14), g),
        r(1, 2, 4, 4), "NCHW", conv_tol))
    paths.append(layer_case(
        "conv_transpose2d_k8_s2", "ConvTranspose2d(3, 2, kernel 8, stride 2) on [1, 3, 2, 2] -> "
        "[1, 2, 10, 10] (notebook 14's generator, fewer maps)",
        {"type": "ConvTranspose2d", "args": [3, 2, 8], "stride": 2}, r(1, 3, 2, 2),
        r(1, 2, 10, 10), "NCHW", conv_tol))
    paths.append(layer_case(
        "conv_transpose2d_k8_s2_p1", "ConvTranspose2d(2, 3, kernel 8, stride 2, padding 1) on "
        "[1, 2, 3, 3] -> [1, 3, 10, 10] (notebook 14's last generator layer)",
        {"type": "ConvTranspose2d", "args": [2, 3, 8], "stride": 2, "padding": 1}, r(1, 2, 3, 3),
        r(1, 3, 10, 10), "NCHW", conv_tol))
    paths.append(layer_case(
        "conv_transpose2d_k5_s2_p1", "ConvTranspose2d(3, 2, kernel 5, stride 2, padding 1) on "
        "[1, 3, 4, 4] -> [1, 2, 9, 9] (the CNN MNIST generator's kernel, stride, padding)",
        {"type": "ConvTranspose2d", "args": [3, 2, 5], "stride": 2, "padding": 1}, r(1, 3, 4, 4),
        r(1, 2, 9, 9), "NCHW", conv_tol))
    paths.append(layer_case("view_flatten", "View(12) on [3, 4]", {"type": "View", "args": [12]},
                            r(3, 4), r(12)))
    paths.append(layer_case("view_unflatten", "View(3, 4) on [12]",
                            {"type": "View", "args": [3, 4]}, r(12), r(3, 4)))
    return paths


# ---------------------------------------------------------------------------- losses


def loss_case(name, description, loss, y, t):
    def run(T, dtype):
        yy = T["y"].clone().requires_grad_(True)
        fn = nn.MSELoss() if loss == "MSELoss" else nn.BCELoss()
        out = fn(yy, T["t"])
        out.backward()
        return {"loss": out, "dy": yy.grad}

    config = {"kind": "loss", "loss": loss, "reduction": "mean"}
    return write_case(name, description, config, {"y": y, "t": t}, run)


def losses():
    g = gen(2)
    paths = []
    paths.append(loss_case("mse_sample", "MSELoss on [4] (notebook 03)", "MSELoss",
                           torch.rand(4, generator=g), torch.tensor([0.01, 0.99, 0.01, 0.01])))
    paths.append(loss_case("mse_batch", "MSELoss on [3, 2]", "MSELoss",
                           torch.randn(3, 2, generator=g), torch.rand(3, 2, generator=g)))
    paths.append(loss_case("bce_sample", "BCELoss on [6] with hard and soft targets", "BCELoss",
                           torch.rand(6, generator=g) * 0.98 + 0.01,
                           torch.tensor([1.0, 0.0, 1.0, 0.0, 0.3, 0.75])))
    paths.append(loss_case("bce_batch", "BCELoss on a batch [4, 1] (mini-batch GAN targets)",
                           "BCELoss", torch.rand(4, 1, generator=g) * 0.98 + 0.01,
                           torch.tensor([[1.0], [0.0], [1.0], [1.0]])))
    y = torch.tensor([0.0, 1.0, 0.0, 1.0, 1e-8, 1.0 - 2 ** -24, 0.5, 1e-30])
    t = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    paths.append(loss_case(
        "bce_saturated", "BCELoss with saturated outputs 0 and 1 (PyTorch clamps each log at "
        "-100; its gradient divides by max(y (1 - y), 1e-12)) and nearly saturated ones",
        "BCELoss", y, t))
    paths.append(loss_case("bce_single", "BCELoss on the GAN's [1] output and target 1",
                           "BCELoss", torch.tensor([0.3]), torch.tensor([1.0])))
    return paths


# ---------------------------------------------------------------------------- optimisers


def optim_case(name, description, opt, kwargs, steps=3):
    g = gen(3)
    init = {"p0": torch.randn(3, 2, generator=g), "p1": torch.randn(4, generator=g)}
    for s in range(steps):
        g0 = torch.randn(3, 2, generator=g)
        g1 = torch.randn(4, generator=g) * 1e-3
        if s == 0:
            g0[0, 0] = 0.0  # a zero gradient
            g1[1] = 1e-9  # a gradient far below eps's scale... and above it after sqrt
        init[f"grad{s}.p0"] = g0
        init[f"grad{s}.p1"] = g1

    def run(T, dtype):
        ps = [T["p0"].clone().requires_grad_(True), T["p1"].clone().requires_grad_(True)]
        o = getattr(torch.optim, opt)(ps, **kwargs)
        out = {}
        for s in range(steps):
            o.zero_grad()
            ps[0].grad = T[f"grad{s}.p0"].clone()
            ps[1].grad = T[f"grad{s}.p1"].clone()
            o.step()
            out[f"step{s + 1}.p0"] = ps[0].detach().clone()
            out[f"step{s + 1}.p1"] = ps[1].detach().clone()
        return out

    config = {"kind": "optimiser", "optimiser": opt, "options": kwargs, "steps": steps,
              "note": "gradients grad<s>.p<i> are set directly before step s+1"}
    return write_case(name, description, config, init, run)


def optimisers():
    return [
        optim_case("sgd", "SGD(lr 0.05), three steps", "SGD", {"lr": 0.05}),
        optim_case("adam_default", "Adam with PyTorch's defaults (lr 0.001), three steps",
                   "Adam", {"lr": 0.001}),
        optim_case("adam_book_gan", "Adam(lr 0.0001) as the book's GANs, three steps", "Adam",
                   {"lr": 0.0001}),
        optim_case("adam_betas", "Adam(lr 0.0002, betas (0.5, 0.999)), three steps", "Adam",
                   {"lr": 0.0002, "betas": [0.5, 0.999]}),
        optim_case("adam_one_step", "Adam(lr 0.01), one step", "Adam", {"lr": 0.01}, steps=1),
    ]


# ---------------------------------------------------------------------------- book networks


def net_init(specs, seed):
    """Starting state of each named network, drawn with PyTorch's own initialisation."""
    torch.manual_seed(seed)
    init = {}
    layouts = {}
    for who, spec in specs.items():
        m = build(spec)
        randomize_norms(m, gen(seed + 1))
        for k, v in state(m).items():
            init[f"{who}/{k}"] = v
        layouts.update(layouts_of(spec, f"{who}/"))
    return init, layouts


def optimiser(params, spec):
    if spec["type"] == "SGD":
        return torch.optim.SGD(params, lr=spec["lr"])
    return torch.optim.Adam(params, lr=spec["lr"], betas=tuple(spec.get("betas", (0.9, 0.999))))


def loss_fn(name):
    return nn.MSELoss() if name == "MSELoss" else nn.BCELoss()


class Snapshots:
    """Records every state tensor after each stage; write_case drops the unchanged ones."""

    def __init__(self, nets, out, layouts):
        self.nets, self.out, self.layouts = nets, out, layouts

    def take(self, stage):
        for who, m in self.nets.items():
            for k, v in state(m).items():
                key = f"{who}/{k}"
                self.out[f"{stage}/{key}"] = v.detach().clone()
                if key in self.layouts:
                    self.layouts[f"{stage}/{key}"] = self.layouts[key]


def classifier_case(name, description, spec, loss, opt, n_in, n_out, steps, image_chw=None):
    init, layouts = net_init({"C": spec}, 40 + len(name))
    g = gen(41)
    for s in range(steps):
        if image_chw:
            init[f"input{s}"] = pixels((1, *image_chw), g)
            layouts[f"input{s}"] = "NCHW"
        else:
            init[f"input{s}"] = torch.rand(n_in, generator=g)
        t = torch.full((n_out,), 0.01)
        t[s % n_out] = 0.99
        init[f"target{s}"] = t
    state_layouts = dict(layouts)

    def run(T, dtype):
        C = load(build(spec), T, "C/", dtype)
        o = optimiser(C.parameters(), opt)
        lf = loss_fn(loss)
        out = {}
        snaps = Snapshots({"C": C}, out, state_layouts)
        losses = []
        for s in range(steps):
            # the book's Classifier.train(): forward, loss, zero_grad, backward, step
            y = C(T[f"input{s}"])
            lo = lf(y, T[f"target{s}"])
            losses.append(lo.detach().reshape(1))
            o.zero_grad()
            lo.backward()
            o.step()
            snaps.take(f"step{s}")
        out["losses"] = torch.cat(losses)
        return out

    # run once to learn the snapshot keys' layouts
    run({k: v.clone() for k, v in init.items()}, torch.float32)
    config = {"kind": "classifier", "networks": {"C": spec}, "loss": loss, "optimiser": opt,
              "steps": steps,
              "procedure": "per step s: C.train(input<s>, target<s>); losses[s] is that step's "
              "loss; step<s>/C/<key> is the state after it (only tensors that changed)"}
    return write_case(name, description, config, init, run, state_layouts)


def gan_case(name, description, specs, opts, iterations, image, seed_size, labels=0,
             image_chw=None, tol=None):
    init, layouts = net_init(specs, 60 + len(name))
    g = gen(61)
    for it in range(iterations):
        if image_chw:
            init[f"real{it}"] = pixels((1, *image_chw), g)
            layouts[f"real{it}"] = "NCHW"
        else:
            init[f"real{it}"] = torch.rand(image, generator=g)
        init[f"seed{it}.a"] = torch.randn(seed_size, generator=g)
        init[f"seed{it}.b"] = torch.randn(seed_size, generator=g)
        if labels:
            lab = torch.zeros(labels)
            lab[it % labels] = 1.0
            init[f"label{it}"] = lab
            rl = torch.zeros(labels)
            rl[(3 * it + 1) % labels] = 1.0
            init[f"random_label{it}"] = rl
    state_layouts = dict(layouts)

    def run(T, dtype):
        D = load(build(specs["D"]), T, "D/", dtype)
        G = load(build(specs["G"]), T, "G/", dtype)
        oD = optimiser(D.parameters(), opts["D"])
        oG = optimiser(G.parameters(), opts["G"])
        bce = nn.BCELoss()
        real = torch.ones(1, dtype=dtype)
        fake = torch.zeros(1, dtype=dtype)
        Dfwd = (lambda x, lab: D(torch.cat((x, lab)))) if labels else (lambda x, lab: D(x))
        Gfwd = (lambda x, lab: G(torch.cat((x, lab)))) if labels else (lambda x, lab: G(x))
        out = {}
        snaps = Snapshots({"D": D, "G": G}, out, state_layouts)
        dl, gl = [], []

        def d_train(x, lab, target):
            lo = bce(Dfwd(x, lab), target)
            dl.append(lo.detach().reshape(1))
            oD.zero_grad()
            lo.backward()
            oD.step()

        for it in range(iterations):
            lab = T.get(f"label{it}")
            rl = T.get(f"random_label{it}")
            # train discriminator on true
            d_train(T[f"real{it}"], lab, real)
            snaps.take(f"it{it}.real")
            # train discriminator on false; detach() so gradients in G are not calculated
            d_train(Gfwd(T[f"seed{it}.a"], rl).detach(), rl, fake)
            snaps.take(f"it{it}.fake")
            # train generator (D's gradients accumulate but D's optimiser does not step)
            lo = bce(Dfwd(Gfwd(T[f"seed{it}.b"], rl), rl), real)
            gl.append(lo.detach().reshape(1))
            oG.zero_grad()
            lo.backward()
            oG.step()
            snaps.take(f"it{it}.gen")
        out["D.losses"] = torch.cat(dl)
        out["G.losses"] = torch.cat(gl)
        return out

    run({k: v.clone() for k, v in init.items()}, torch.float32)
    config = {
        "kind": "cgan" if labels else "gan", "networks": specs, "loss": "BCELoss",
        "optimisers": opts, "iterations": iterations,
        "procedure": "per iteration i: D.train(real<i>" + (", label<i>" if labels else "") +
        ", 1); D.train(detach(G.forward(seed<i>.a" + (", random_label<i>" if labels else "") +
        "))" + (", random_label<i>" if labels else "") + ", 0); G.train(D, seed<i>.b" +
        (", random_label<i>" if labels else "") + ", 1). it<i>.real|fake|gen/<net>/<key> is the "
        "state after each of the three (only tensors that changed, BatchNorm running "
        "statistics included: forward passes in training mode update them); D.losses has two "
        "per iteration, G.losses one",
    }
    if labels:
        config["conditional"] = "D and G read torch.cat((x, label)) of 1-D tensors"
    return write_case(name, description, config, init, run, state_layouts, tol)


def networks():
    paths = []
    mlp = lambda i, h, o, act: [  # noqa: E731
        {"type": "Linear", "args": [i, h]}, act,
        {"type": "Linear", "args": [h, o]}, {"type": "Sigmoid"}]
    paths.append(classifier_case(
        "net_classifier_03", "Notebook 03's classifier at 20-8-4 (book: 784-200-10): Sigmoid, "
        "MSELoss, SGD(lr 0.01), two samples one at a time",
        mlp(20, 8, 4, {"type": "Sigmoid"}), "MSELoss", {"type": "SGD", "lr": 0.01}, 20, 4, 2))
    paths.append(classifier_case(
        "net_classifier_04_combined", "Notebook 04's combined classifier at 20-8-4: "
        "LeakyReLU(0.02), LayerNorm, Sigmoid, BCELoss, Adam(lr 0.001), two samples",
        [{"type": "Linear", "args": [20, 8]}, {"type": "LeakyReLU", "args": [0.02]},
         {"type": "LayerNorm", "args": [8]}, {"type": "Linear", "args": [8, 4]},
         {"type": "Sigmoid"}], "BCELoss", {"type": "Adam", "lr": 0.001}, 20, 4, 2))
    cnn = [
        {"type": "Conv2d", "args": [1, 3, 5], "stride": 2},
        {"type": "LeakyReLU", "args": [0.02]},
        {"type": "BatchNorm2d", "args": [3]},
        {"type": "Conv2d", "args": [3, 3, 3], "stride": 2},
        {"type": "LeakyReLU", "args": [0.02]},
        {"type": "BatchNorm2d", "args": [3]},
        {"type": "View", "args": [12]},
        {"type": "Linear", "args": [12, 4], "in_chw": [3, 2, 2]},
        {"type": "Sigmoid"},
    ]
    paths.append(classifier_case(
        "net_cnn_13", "Notebook 13's CNN classifier with 3 maps on 13x13 images (book: 10 maps, "
        "28x28): 13 -> 5 -> 2, View(12), Linear(12, 4), BCELoss, Adam(lr 0.001), two images "
        "[1, 1, 13, 13] one at a time", cnn, "BCELoss", {"type": "Adam", "lr": 0.001}, 0, 4, 2,
        image_chw=(1, 13, 13)))
    book_adam = {"type": "Adam", "lr": 0.0001}
    D = [{"type": "Linear", "args": [20, 8]}, {"type": "LeakyReLU", "args": [0.02]},
         {"type": "LayerNorm", "args": [8]}, {"type": "Linear", "args": [8, 1]},
         {"type": "Sigmoid"}]
    G = [{"type": "Linear", "args": [6, 8]}, {"type": "LeakyReLU", "args": [0.02]},
         {"type": "LayerNorm", "args": [8]}, {"type": "Linear", "args": [8, 20]},
         {"type": "Sigmoid"}]
    paths.append(gan_case(
        "net_mnist_gan_08", "Notebook 08's MNIST GAN at 20-8-1 and 6-8-20 (book: 784-200-1, "
        "100-200-784): LeakyReLU(0.02), LayerNorm, BCELoss, Adam(lr 0.0001), one iteration",
        {"D": D, "G": G}, {"D": book_adam, "G": book_adam}, 1, 20, 6))
    Dc = [dict(s) for s in D]
    Dc[0] = {"type": "Linear", "args": [20 + 4, 8]}
    Gc = [dict(s) for s in G]
    Gc[0] = {"type": "Linear", "args": [6 + 4, 8]}
    paths.append(gan_case(
        "net_cgan_16", "Notebook 16's conditional GAN with 4 labels (book: 10), image 20, seed "
        "6: D(cat(image, label)), G(cat(seed, label)), one iteration",
        {"D": Dc, "G": Gc}, {"D": book_adam, "G": book_adam}, 1, 20, 6, labels=4))
    f = 2
    act = {"type": "LeakyReLU", "args": [0.2]}
    Dconv = [
        {"type": "Conv2d", "args": [3, f, 8], "stride": 2}, {"type": "BatchNorm2d", "args": [f]},
        act,
        {"type": "Conv2d", "args": [f, f, 8], "stride": 2}, {"type": "BatchNorm2d", "args": [f]},
        act,
        {"type": "Conv2d", "args": [f, 3, 8], "stride": 2}, act,
        {"type": "View", "args": [3]},
        {"type": "Linear", "args": [3, 1], "in_chw": [3, 1, 1]},
        {"type": "Sigmoid"},
    ]
    Gconv = [
        {"type": "Linear", "args": [8, 3 * 2 * 2], "out_chw": [3, 2, 2]}, act,
        {"type": "View", "args": [1, 3, 2, 2], "tf_args": [1, 2, 2, 3]},
        {"type": "ConvTranspose2d", "args": [3, f, 8], "stride": 2},
        {"type": "BatchNorm2d", "args": [f]}, act,
        {"type": "ConvTranspose2d", "args": [f, f, 8], "stride": 2},
        {"type": "BatchNorm2d", "args": [f]}, act,
        {"type": "ConvTranspose2d", "args": [f, 3, 8], "stride": 2, "padding": 1},
        {"type": "BatchNorm2d", "args": [3]},
        {"type": "Sigmoid"},
    ]
    paths.append(gan_case(
        "net_conv_face_gan_14", "Notebook 14's convolutional face GAN with 2 maps (book: 256) on "
        "56x56 crops (book: 128): D 56 -> 25 -> 9 -> 1 with kernel 8 stride 2, BatchNorm2d, "
        "LeakyReLU(0.2); G seed 8 -> Linear -> View(1, 3, 2, 2) -> 10 -> 26 -> 56 (last "
        "padding 1), BatchNorm2d, Sigmoid; BCELoss, Adam(lr 0.0001), one iteration",
        {"D": Dconv, "G": Gconv}, {"D": book_adam, "G": book_adam}, 1, None, 8,
        image_chw=(3, 56, 56), tol={"atol": 2e-5, "rtol": 1e-5}))
    return paths


def main():
    os.makedirs(OUT, exist_ok=True)
    paths = layers() + losses() + optimisers() + networks()
    names = {os.path.basename(p) for p in paths}
    for f in os.listdir(OUT):
        if f.endswith(".json") and f not in names:
            os.remove(os.path.join(OUT, f))
    total = 0
    for p in paths:
        size = os.path.getsize(p)
        total += size
        with open(p) as fh:
            skipped = json.load(fh)["skipped"]
        print(f"{os.path.relpath(p, ROOT)}: {size} bytes" +
              (f", {skipped} float32-undetermined elements skipped" if skipped else ""))
    print(f"{len(paths)} fixtures, {total} bytes, torch {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
