"""Speed and memory of one CNN training step: sg-tensor, hand-written numpy and PyTorch.

Run it with ``nox -s bench`` (or ``python benchmarks/bench_cnn.py`` in an environment
holding ``sg-tensor``, ``numpy`` and ``torch==2.13.0``). It prints a table, ``--json
PATH`` also writes the numbers, and it exits non-zero when a target is missed unless
``--no-fail`` is given. ``--quick`` is a smoke run.

The workload is one training step of a small convolutional network: forward, mean
squared error against fixed targets, backward, and ``p -= lr * grad``, at two sizes:

- **digits**: a batch of 128 images 1x8x8; conv 3x3 1->16 (padding 1), ReLU, conv 3x3
  16->32 (padding 1), ReLU, 2x2 max pooling, a linear layer 512->10;
- **cifar**: a batch of 32 images 3x32x32; conv 3x3 3->32 (padding 1), ReLU, 2x2 max
  pooling, conv 3x3 32->64 (padding 1), ReLU, 2x2 max pooling, a linear layer 4096->10.

Three implementations of the same arithmetic, float64:

- **numpy**: written by hand the way a careful numpy programmer writes a CNN: the
  windows of the padded input as an ``as_strided`` view, copied once into columns and
  multiplied by the kernel matrix (im2col); the input gradient multiplied back and added
  into place one kernel offset at a time (col2im); max pooling over 2x2 blocks as the
  maximum of four strided views, its gradient written through the same views where each
  block's first maximum was.
  No graph, no bookkeeping; the input batch's gradient is never computed;
- **sg-tensor**: ``Tensor`` parameters, ``sg_tensor.conv2d``, ``relu``, ``max_pool2d``,
  ``linear``, ``backward()`` and the update under ``no_grad()``, as a user writes it;
- **sg-captured**: the same step with ``sg_optim.SGD`` (the same update) through
  ``sg_tensor.capture``: recorded once, then replayed without a graph;
- **torch**: PyTorch eager on the CPU, ``torch.nn.functional``'s same operators.

How it is measured (the MLP benchmark, ``bench_tensor.py``, explains each choice): every
implementation runs in worker processes of its own, one per size, with one BLAS and
OpenMP thread (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and
``torch.set_num_threads``); the workers take turns in rounds whose order rotates; a
measurement is the median time per step over blocks of about ``--target`` seconds, in
CPU time of the worker; the reported time is the minimum over rounds. The allocator is
glibc's default, as a user has it. Before timing, the first steps' losses must agree to
``1e-10`` (relative): all run the same workload.

**Memory per step** is the peak of memory allocated during a step above what was live
before it, as ``tracemalloc`` sees numpy's allocations (numpy reports them): for numpy
and sg-tensor. PyTorch's allocator is not traced; its column says ``-``.

Targets (``--no-fail`` reports without enforcing): sg's time, eager and captured, at most
1.3 times numpy's at both sizes; sg (eager or captured) ahead of PyTorch eager at the
digits size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import machine  # this folder's: the CPU, BLAS and allocator lines, memory per step

SEED = 20261207
LR = 0.01
CHECK_STEPS = 3
LOSS_TOLERANCE = 1e-10
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
IMPLS = ("numpy", "sg-tensor", "sg-captured", "torch")
RATIO_TARGET = 1.3  # sg-tensor / numpy, both sizes
AHEAD_OF_TORCH = ("digits",)


@dataclass(frozen=True)
class Net:
    """A CNN's input batch, its convolutions (out channels; each 3x3, padding 1), which of
    them a 2x2 max pooling follows, and the classes."""

    name: str
    batch: int
    image: tuple[int, int, int]  # channels, height, width
    convs: tuple[int, ...]
    pooled_after: tuple[int, ...]
    classes: int = 10

    def features(self) -> int:
        _, h, w = self.image
        halvings = 2 ** len(self.pooled_after)
        return self.convs[-1] * (h // halvings) * (w // halvings)


NETS = (
    Net("digits", 128, (1, 8, 8), (16, 32), pooled_after=(1,)),
    Net("cifar", 32, (3, 32, 32), (32, 64), pooled_after=(0, 1)),
)


def make_workload(net: Net) -> tuple[Any, Any, list[Any]]:
    """Images, targets and parameters ``[K1, c1, K2, c2, W, b]`` (He-style), float64."""
    import numpy as np

    rng = np.random.default_rng([SEED, net.batch, *net.image])
    x = rng.standard_normal((net.batch, *net.image))
    y = rng.standard_normal((net.batch, net.classes))
    params = []
    channels = net.image[0]
    for out in net.convs:
        fan_in = channels * 9
        params += [rng.standard_normal((out, channels, 3, 3)) * np.sqrt(2 / fan_in),
                   rng.uniform(-0.1, 0.1, out)]  # fmt: skip
        channels = out
    features = net.features()
    params += [rng.standard_normal((net.classes, features)) * np.sqrt(1 / features),
               rng.uniform(-0.1, 0.1, net.classes)]  # fmt: skip
    return x, y, params


# ------------------------------------------------------------------------------------------
# The hand-written numpy step
# ------------------------------------------------------------------------------------------
class NumpyCNN:
    """im2col convolutions, col2im input gradients, reshaped 2x2 max pooling."""

    def __init__(self, net: Net) -> None:
        import numpy as np

        self.np = np
        self.net = net
        self.x, self.y, initial = make_workload(net)
        self.initial = initial
        self.params = [p.copy() for p in initial]

    def reset(self) -> None:
        for p, p0 in zip(self.params, self.initial):
            p[...] = p0

    def _columns(self, x: Any) -> Any:
        """(N, C*9, H*W): the 3x3 windows of x padded by 1, copied once."""
        np = self.np
        n, c, h, w = x.shape
        padded = np.zeros((n, c, h + 2, w + 2))
        padded[:, :, 1:-1, 1:-1] = x
        s = padded.strides
        view = np.lib.stride_tricks.as_strided(
            padded, (n, c, 3, 3, h, w), (s[0], s[1], s[2], s[3], s[2], s[3]), writeable=False
        )
        return view.reshape(n, c * 9, h * w)

    def _col2im(self, cols: Any, c: int, h: int, w: int) -> Any:
        """The adjoint of _columns: (N, C*9, H*W) added back into (N, C, H, W)."""
        np = self.np
        n = cols.shape[0]
        cols = cols.reshape(n, c, 3, 3, h, w)
        padded = np.zeros((n, c, h + 2, w + 2))
        for i in range(3):
            for j in range(3):
                padded[:, :, i : i + h, j : j + w] += cols[:, :, i, j]
        return padded[:, :, 1:-1, 1:-1]

    def step(self) -> float:
        np = self.np
        params, net = self.params, self.net
        n = self.x.shape[0]
        h = self.x
        saved = []
        for i, out_channels in enumerate(net.convs):
            kernel, bias = params[2 * i], params[2 * i + 1]
            _, c, height, width = h.shape
            cols = self._columns(h)
            z = np.matmul(kernel.reshape(out_channels, -1), cols)  # (N, O, H*W)
            z += bias[:, None]
            np.maximum(z, 0, out=z)
            z = z.reshape(n, out_channels, height, width)
            record: dict[str, Any] = {"input": h, "cols": cols, "relu": z}
            if i in net.pooled_after:  # the four corners of each 2x2 block, strided views
                corners = [z[:, :, a::2, b::2] for a in (0, 1) for b in (0, 1)]
                pooled = np.maximum(corners[0], corners[1])
                np.maximum(pooled, np.maximum(corners[2], corners[3]), out=pooled)
                first = np.full(pooled.shape, 3, dtype=np.int8)  # the first maximum's corner
                for k in (2, 1, 0):
                    np.copyto(first, k, where=corners[k] == pooled)
                record["first"] = first
                z = pooled
            saved.append(record)
            h = z
        flat = h.reshape(n, -1)
        w, b = params[-2], params[-1]
        out = flat @ w.T
        out += b
        d = out
        d -= self.y
        loss = float(np.vdot(d, d)) / d.size
        g = d
        g *= 2.0 / d.size
        grad_w, grad_b = g.T @ flat, g.sum(axis=0)
        g = (g @ w).reshape(h.shape)
        w -= LR * grad_w
        b -= LR * grad_b
        for i in reversed(range(len(net.convs))):
            record = saved[i]
            kernel, bias = params[2 * i], params[2 * i + 1]
            relu = record["relu"]
            _, o, height, width = relu.shape
            if i in net.pooled_after:  # the gradient to each block's first maximum
                routed = np.empty((n, o, height, width))
                for k, (a, b) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
                    np.multiply(g, record["first"] == k, out=routed[:, :, a::2, b::2])
                g = routed
            g *= relu > 0  # g is a fresh array here: the relu's gradient in place
            gm = g.reshape(n, o, height * width)
            grad_k = np.matmul(gm, record["cols"].transpose(0, 2, 1)).sum(axis=0)
            grad_c = gm.sum(axis=(0, 2))
            if i > 0:
                c = record["input"].shape[1]
                cols = np.matmul(kernel.reshape(o, -1).T, gm)
                g = self._col2im(cols, c, height, width)
            kernel -= LR * grad_k.reshape(kernel.shape)
            bias -= LR * grad_c
        return loss


# ------------------------------------------------------------------------------------------
# sg-tensor and PyTorch: the same expressions
# ------------------------------------------------------------------------------------------
def cnn_mse_loss(params: list[Any], x: Any, y: Any, net: Net, F: Any) -> Any:
    """The CNN's forward and MSE loss with an engine's functional operators."""
    h = x
    for i in range(len(net.convs)):
        h = F.conv2d(h, params[2 * i], params[2 * i + 1], 1, 1).relu()
        if i in net.pooled_after:
            h = F.max_pool2d(h, 2)
    out = F.linear(h.reshape(h.shape[0], -1), params[-2], params[-1])
    d = out - y
    return (d * d).mean()


class SgCNN:
    """The sg-tensor training step, as a user writes it."""

    def __init__(self, net: Net) -> None:
        import sg_tensor
        from sg_tensor import Tensor

        self.net, self.F, self.no_grad = net, sg_tensor, sg_tensor.no_grad
        x, y, self.initial = make_workload(net)
        self.x, self.y = Tensor(x), Tensor(y)
        self.params = [Tensor(p.copy(), requires_grad=True) for p in self.initial]

    def reset(self) -> None:
        for p, p0 in zip(self.params, self.initial):
            p.data[...] = p0
            p.grad = None

    def step(self) -> float:
        loss = cnn_mse_loss(self.params, self.x, self.y, self.net, self.F)
        loss.backward()
        with self.no_grad():
            for p in self.params:
                p.data -= LR * p.grad
                p.grad = None
        return float(loss.item())


class TorchCNN:
    """The PyTorch eager training step."""

    def __init__(self, net: Net) -> None:
        import torch

        self.torch, self.net, self.F = torch, net, torch.nn.functional
        x, y, self.initial = make_workload(net)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.params = [torch.tensor(p, requires_grad=True) for p in self.initial]

    def reset(self) -> None:
        with self.torch.no_grad():
            for p, p0 in zip(self.params, self.initial):
                p.copy_(self.torch.from_numpy(p0))
                p.grad = None

    def step(self) -> float:
        loss = cnn_mse_loss(self.params, self.x, self.y, self.net, self.F)
        loss.backward()
        with self.torch.no_grad():
            for p in self.params:
                p -= LR * p.grad
                p.grad = None
        return float(loss.item())


class SgCapturedCNN(SgCNN):
    """The same step with ``sg_optim.SGD`` (the same update), through ``sg_tensor.capture``:
    recorded at the first call, replayed after."""

    def __init__(self, net: Net) -> None:
        import sg_optim

        super().__init__(net)
        opt, params, F = sg_optim.SGD(self.params, lr=LR), self.params, self.F

        def train_step(x: Any, y: Any) -> Any:
            opt.zero_grad()
            loss = cnn_mse_loss(params, x, y, net, F)
            loss.backward()
            opt.step()
            return loss

        self.train_step = F.capture(train_step)

    def step(self) -> float:
        return float(self.train_step(self.x, self.y).item())


MODELS = {"numpy": NumpyCNN, "sg-tensor": SgCNN, "sg-captured": SgCapturedCNN, "torch": TorchCNN}


# ------------------------------------------------------------------------------------------
# Workers: one process per (implementation, net), JSON lines on stdin and stdout
# ------------------------------------------------------------------------------------------
def _timed_steps(model: Any, seconds: float) -> float:
    """The median time per step over blocks filling ``seconds`` (CPU time, 1 thread)."""
    model.reset()
    start = time.process_time()
    model.step()  # warm-up, and the calibration
    one = max(time.process_time() - start, 1e-6)
    per_block = max(1, int(0.002 / one))
    blocks = max(3, int(seconds / (one * per_block)))
    times = []
    for _ in range(blocks):
        start = time.process_time()
        for _ in range(per_block):
            model.step()
        times.append((time.process_time() - start) / per_block)
    return statistics.median(times)


def _peak_memory(model: Any) -> float | None:
    """The peak of memory allocated during one step above what was live before (MiB), as
    tracemalloc sees numpy's allocations; None where it cannot see them (torch)."""
    if isinstance(model, TorchCNN):
        return None
    model.reset()
    model.step()
    return machine.peak_bytes(model.step) / 2**20


def worker(impl: str, net_name: str) -> None:
    """Serve requests for one implementation and net: losses, time, memory."""
    if impl == "torch":
        import torch

        torch.set_num_threads(1)
    net = next(n for n in NETS if n.name == net_name)
    model = MODELS[impl](net)
    for line in sys.stdin:
        request = json.loads(line)
        if request["do"] == "losses":
            model.reset()
            reply: Any = [model.step() for _ in range(CHECK_STEPS)]
        elif request["do"] == "time":
            reply = _timed_steps(model, request["seconds"])
        else:
            reply = _peak_memory(model)
        print(json.dumps(reply), flush=True)


class Worker:
    def __init__(self, impl: str, net: str) -> None:
        env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, "1")}
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", impl, net],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip

    def ask(self, do: str, **kwargs: Any) -> Any:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps({"do": do, **kwargs}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a benchmark worker died; run it alone to see its error")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def run(args: argparse.Namespace) -> int:
    workers = {(impl, net.name): Worker(impl, net.name) for impl in IMPLS for net in NETS}
    try:
        for net in NETS:  # the same workload: the first steps' losses agree
            losses = {impl: workers[(impl, net.name)].ask("losses") for impl in IMPLS}
            reference = losses["numpy"]
            for impl, values in losses.items():
                worst = max(abs(a - b) / abs(b) for a, b in zip(values, reference))
                if worst > LOSS_TOLERANCE:
                    print(f"{net.name}: {impl}'s losses {values} differ from numpy's "
                          f"{reference} by {worst:.2e}")  # fmt: skip
                    return 2
        best: dict[tuple[str, str], float] = {}
        rounds = 1 if args.quick else args.rounds
        seconds = 0.05 if args.quick else args.target
        for r in range(rounds):
            order = IMPLS[r % len(IMPLS) :] + IMPLS[: r % len(IMPLS)]
            for net in NETS:
                for impl in order:
                    t = workers[(impl, net.name)].ask("time", seconds=seconds)
                    key = (impl, net.name)
                    best[key] = min(best.get(key, float("inf")), t)
        memory = {key: w.ask("memory") for key, w in workers.items()}
    finally:
        for w in workers.values():
            w.close()
    import numpy as np

    rows = []
    for net in NETS:
        t = {impl: best[(impl, net.name)] for impl in IMPLS}
        rows.append({
            "net": net.name, "batch": net.batch, "image": list(net.image),
            "ms": {impl: 1e3 * t[impl] for impl in IMPLS},
            "over_numpy": {impl: t[impl] / t["numpy"] for impl in IMPLS},
            "over_torch": {impl: t[impl] / t["torch"] for impl in IMPLS},
            "peak_mib_per_step": {impl: memory[(impl, net.name)] for impl in IMPLS},
        })  # fmt: skip
    header = (f"{'net':<8}{'implementation':<14}{'ms/step':>10}{'/numpy':>9}{'/torch':>9}"
              f"{'MiB/step':>10}")  # fmt: skip
    lines = [
        f"CNN training step, float64, CPU time; numpy {np.__version__}",
        *machine.header(threads=1),
        header,
        "-" * len(header),
    ]
    failed = []
    for row in rows:
        for impl in IMPLS:
            mem = row["peak_mib_per_step"][impl]
            lines.append(
                f"{row['net']:<8}{impl:<14}{row['ms'][impl]:>10.3f}"
                f"{row['over_numpy'][impl]:>9.2f}{row['over_torch'][impl]:>9.2f}"
                f"{'-' if mem is None else f'{mem:.2f}':>10}"
            )
        lines.append("")
        for impl in ("sg-tensor", "sg-captured"):
            if row["over_numpy"][impl] > RATIO_TARGET:
                failed.append(f"{row['net']}: {impl} {row['over_numpy'][impl]:.2f}x numpy "
                              f"(target <= {RATIO_TARGET})")  # fmt: skip
        fastest = min(row["over_torch"]["sg-tensor"], row["over_torch"]["sg-captured"])
        if row["net"] in AHEAD_OF_TORCH and fastest >= 1.0:
            failed.append(f"{row['net']}: sg {fastest:.2f}x torch, eager or captured "
                          f"(target: ahead)")  # fmt: skip
    print("\n".join(lines))
    for message in failed:
        print(f"MISSED {message}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"cpu": machine.cpu_model(), "python": platform.python_version(),
                       "rows": rows, "missed": failed}, out, indent=2)  # fmt: skip
    return 1 if failed and not args.no_fail else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs=2, metavar=("IMPL", "NET"), help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.3, help="seconds per measurement")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-fail", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
