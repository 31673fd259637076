"""Speed of sg-tensor against hand-written numpy and PyTorch on one MLP training step.

Run it with ``nox -s bench`` (or ``python benchmarks/bench_tensor.py`` in an environment
holding ``sg-nn``, ``sg-optim`` (and so ``sg-tensor``), ``numpy`` and
``torch==2.13.0``). It prints a table and exits non-zero when a target is missed, unless
``--no-fail`` is given; ``--json PATH`` also writes the numbers; ``--quick`` is a smoke
run (one round, a few steps per measurement, one worker per implementation for all
cases; its timings are rough, so pair it with ``--no-fail`` where only the checks
matter).

The workload is one training step of a multilayer perceptron with ReLU hidden layers
and a linear output layer: forward pass, mean squared error against fixed targets,
backward pass, and a plain SGD update ``p -= lr * grad``. Three sizes (2-16-16-1 on a
batch of 100, 64-256-256-10 on 256, 784-1024-1024-10 on 512), each in float64 and in
float32, and these implementations of the same arithmetic:

- **numpy**: a hand-written forward and backward pass, the practical floor for any
  engine built on numpy (it calls the same BLAS with no graph, no bookkeeping and no
  temporary it can avoid), the update included;
- **sg-linear**: ``Tensor`` parameters with ``requires_grad=True``, each layer
  ``sg_tensor.linear(h, W, b)`` (``h @ W.T + b`` as one operator, what ``sg_nn.Linear``
  runs), ``loss.backward()`` and the update ``p.data -= lr * p.grad``;
- **sg-matmul**: the same step spelled ``h @ W + b`` (weights ``(in, out)``): two
  operators per layer, as a user writes it without ``linear``;
- **sg-nn**: the whole user path: an ``sg_nn.Sequential`` of ``Linear`` and ``ReLU``,
  ``F.mse_loss``, ``opt.zero_grad()``, ``loss.backward()``, ``sg_optim.SGD.step()``;
- **sg-captured**: that same step, ``sg_tensor.capture``-d: recorded once, then
  replayed without a graph into buffers allocated once;
- **torch**: PyTorch eager on the CPU with plain tensors, each layer
  ``torch.nn.functional.linear`` (what ``nn.Linear`` runs), the update under
  ``torch.no_grad()``;
- **numpy+cached**, **sg-linear+cached**: extra rows, labelled: numpy and sg-linear
  with a tuned glibc malloc that keeps freed memory (``GLIBC_TUNABLES`` of
  ``machine.CACHED_ALLOCATOR``), to show what the allocator costs. Every other row runs
  with glibc's default settings, as a user has them.

The targets (float64; float32 rows are reported), sg's time over numpy's in the same run:
eager (sg-linear and sg-matmul) at most 2.0 at 2-16-16-1, 1.10 at 64-256-256-10 and
1.03 at 784-1024-1024-10; the whole user path (sg-nn) at most 2.5 at 2-16-16-1; the
captured step at most 1.1, 1.0 and 1.0. Whether sg is ahead of torch is reported on INFO
lines, and enforced only with ``--require-ahead-of-torch`` (for the captured step). A
workload mismatch (the losses differ) exits with 2. **Memory per step** is the peak of
memory allocated during a step above what was live before, as tracemalloc sees numpy's
arrays (PyTorch's allocator is not seen: ``-``).

Weights and data are drawn once from ``numpy.random.default_rng(SEED)`` (float32 cases
are the float64 numbers rounded), so all start from identical numbers. Before any
timing, each implementation runs a few steps from the initial weights and the losses
must agree (to ``1e-10`` relative in float64, ``1e-4`` in float32): the timings
measure the same workload, gradients and update included.

Design choices, and why:

- **One worker process per implementation and case, same thread count.** numpy's BLAS
  (OpenBLAS) and torch (MKL + OpenMP) read their thread counts when they load, so each
  implementation runs in workers (this script re-invoked with ``--worker IMPL``) whose
  environment sets ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS``
  to ``--threads`` (default 1) before numpy is imported; the torch workers also call
  ``torch.set_num_threads``. Every (implementation, size, dtype) gets a worker of its
  own, as a training script would have: the memory allocator's state (how much freed
  memory glibc keeps rather than returning it to the kernel) depends on what ran
  before in the process, and a large case run first would otherwise change the cost of
  a smaller one. Separate processes also keep torch's allocator and thread pools away
  from the numpy engines. ``OPENBLAS_CORETYPE`` and the rest of the environment are
  inherited unchanged.
- **Interleaving.** The benchmark machine is small, shared and noisy. The workers stay
  alive for the whole run and take turns: in every round each case is measured once
  per implementation, in an order that rotates from round to round, and an idle worker
  blocks on its pipe (no CPU). A busy period of the machine therefore slows all three
  rather than one. Each measurement also records how many page faults a step took
  (``minor_faults_per_step`` in the JSON), to tell allocator effects apart.
- **CPU time, with one thread.** The machine is shared, and other processes take the
  CPU away from a worker for milliseconds at a time. With one thread (the default) a
  step's cost is the worker's CPU time (``time.process_time``, all its threads
  included), which does not count the time it spent descheduled; wall-clock time would
  add whatever the neighbours did. With ``--threads`` above 1 the default is wall-clock
  time (``--clock`` chooses), since CPU time would add up the threads' work (and their
  spinning) instead of measuring the step's latency. CPU time includes system time:
  the page faults of fresh large allocations (glibc hands big freed blocks back to the
  kernel, so a step that frees and reallocates them faults them in again) are part of
  what a step costs, and at the larger sizes they are a visible part.
- **Adaptive repetition, medians and minimum.** Each worker calibrates, per case, how
  many steps fill about ``--target`` seconds (0.25 s by default; at least 3 steps, which
  for the largest size is about that long already). Short steps are timed in blocks of
  about 2 ms (so reading the clock costs nothing measurable), long ones one by one. A
  measurement runs about a tenth of its length of untimed warm-up steps (at least
  one), then the blocks; its result is the median over blocks of the time per step.
  The reported time is the **minimum over rounds of these medians**: noise on a shared
  machine only ever adds time, so the least disturbed round is the best estimate of
  the cost, and the median inside a round discards single hiccups. Ratios are ratios
  of these reported times.
- **Same starting point for every measurement.** The parameters are reset to the
  initial weights (in place, untimed) before every measurement, so every round times
  the same steps and training can never drift into overflow or dead units.
- The garbage collector is left on, as a user has it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import machine  # this folder's: the CPU, BLAS and allocator lines, memory per step

# --- the workload -------------------------------------------------------------------------
SEED = 20240531
LR = 0.01
CHECK_STEPS = 3  # the losses of these first steps must agree across implementations
LOSS_TOLERANCE = {"float64": 1e-10, "float32": 1e-4}  # relative, against numpy


@dataclass(frozen=True)
class Size:
    """An MLP's layer widths (input first) and the batch it trains on."""

    widths: tuple[int, ...]
    batch: int

    @property
    def name(self) -> str:
        return "-".join(map(str, self.widths))


SIZES = (
    Size((2, 16, 16, 1), 100),
    Size((64, 256, 256, 10), 256),
    Size((784, 1024, 1024, 10), 512),
)
DTYPES = ("float64", "float32")
IMPLS = (
    "numpy", "sg-linear", "sg-matmul", "sg-nn", "sg-captured", "torch",
    "numpy+cached", "sg-linear+cached",
)  # fmt: skip
BASELINE = "sg-linear@baseline"  # --baseline DIR: sg-linear from another checkout, same run
CACHED = "+cached"  # the suffix of the extra rows run with the tuned allocator
# The targets, float64, sg's time over numpy's per size (None: reported only).
TARGETS: dict[str, tuple[float | None, ...]] = {
    "sg-linear": (2.0, 1.10, 1.03),
    "sg-matmul": (2.0, 1.10, 1.03),
    "sg-nn": (2.5, None, None),
    "sg-captured": (1.1, 1.0, 1.0),
}
CASES = [(size_index, dtype) for size_index in range(len(SIZES)) for dtype in DTYPES]

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CLOCKS = {
    "cpu": "CPU time of the worker process (time.process_time)",
    "wall": "wall-clock time (time.perf_counter)",
}
BLOCK_S = 0.002  # steps shorter than this are timed in blocks of about this length


def case_name(size_index: int, dtype: str) -> str:
    return f"{SIZES[size_index].name}/{dtype}"


# ------------------------------------------------------------------------------------------
# Workload generation: run in every worker, deterministic, so no arrays cross processes.
# ------------------------------------------------------------------------------------------
def make_workload(size: Size, dtype: str) -> tuple[Any, Any, list[Any]]:
    """Input batch ``x``, targets ``y`` and the parameters ``[W1, b1, W2, b2, ...]``.

    ``W_i`` has shape ``(fan_in, fan_out)`` (so a layer is ``h @ W + b``), drawn He-style
    ``N(0, 2 / fan_in)``; biases are ``U(-0.1, 0.1)`` rather than 0 so that their
    gradients and updates change the result. Everything is drawn in float64 from one
    seeded Generator and then rounded to ``dtype``: the float32 workload is the float64
    one, rounded.
    """
    import numpy as np

    rng = np.random.default_rng([SEED, *size.widths, size.batch])
    x = rng.standard_normal((size.batch, size.widths[0]))
    y = rng.standard_normal((size.batch, size.widths[-1]))
    params = []
    for fan_in, fan_out in zip(size.widths[:-1], size.widths[1:]):
        params.append(rng.standard_normal((fan_in, fan_out)) * math.sqrt(2.0 / fan_in))
        params.append(rng.uniform(-0.1, 0.1, fan_out))
    cast = np.dtype(dtype)
    return x.astype(cast), y.astype(cast), [p.astype(cast) for p in params]


# ------------------------------------------------------------------------------------------
# The three implementations. Each has reset() (parameters back to the initial weights,
# in place) and step() -> the loss of the step, as a Python float.
# ------------------------------------------------------------------------------------------
class NumpyMLP:
    """The hand-written numpy training step: what a careful numpy programmer writes.

    The weights are in the ``(out, in)`` layout that sg and torch use, so that the three
    call BLAS on the same operands. Forward: ``z = h @ W.T; z += b; relu in place``;
    every activation is kept for the backward pass. Backward: the output gradient
    ``2 (out - y) / n`` is made in place from ``out``; each layer's weight gradient is
    ``g.T @ h`` (numpy hands transposed views straight to BLAS, no copy), its bias
    gradient ``g.sum(0)``, and the gradient passed down is ``(g @ W) * (h > 0)``
    (multiplying by the boolean mask in place, which is much faster than ``np.where`` on
    a random mask). The input batch's
    gradient is never computed. Each layer's parameters are updated in place as soon as
    its gradients are known and ``W`` is no longer needed: the same numbers as updating
    after the full backward pass, without keeping every gradient alive.
    """

    def __init__(self, size: Size, dtype: str) -> None:
        import numpy as np

        self.x, self.y, initial = make_workload(size, dtype)
        self.initial = out_in_layout(initial)
        self.params = [p.copy() for p in self.initial]
        self.maximum, self.vdot = np.maximum, np.vdot  # no import statement inside step()

    def reset(self) -> None:
        for p, p0 in zip(self.params, self.initial):
            p[...] = p0

    def step(self) -> float:
        params = self.params
        n_layers = len(params) // 2
        activations = [self.x]  # the input of each layer
        h = self.x
        for i in range(n_layers):
            z = h @ params[2 * i].T
            z += params[2 * i + 1]
            if i < n_layers - 1:
                self.maximum(z, 0, out=z)
                activations.append(z)
            h = z
        d = h  # the output, no longer needed as such: becomes out - y, then the gradient
        d -= self.y
        loss = float(self.vdot(d, d)) / d.size
        g = d
        g *= 2.0 / d.size
        for i in reversed(range(n_layers)):
            w, b = params[2 * i], params[2 * i + 1]
            a = activations[i]
            grad_w = g.T @ a
            grad_b = g.sum(axis=0)
            if i > 0:  # not for the first layer: the input needs no gradient
                g = g @ w
                g *= a > 0  # relu backward: a is relu's output, > 0 exactly where z > 0
            grad_w *= LR
            w -= grad_w
            grad_b *= LR
            b -= grad_b
        return loss


def mlp_mse_loss(params: list[Any], x: Any, y: Any, linear: Any) -> Any:
    """The MLP's forward and MSE loss, written once for sg and PyTorch (same operators).

    ``linear`` is the engine's ``x @ W.T + b`` (``sg_tensor.linear``,
    ``torch.nn.functional.linear``), what each engine's Linear layer runs; the weights are
    in its ``(out, in)`` layout.
    """
    n_layers = len(params) // 2
    h = x
    for i in range(n_layers):
        h = linear(h, params[2 * i], params[2 * i + 1])
        if i < n_layers - 1:
            h = h.relu()
    d = h - y
    return (d * d).mean()


def out_in_layout(params: list[Any]) -> list[Any]:
    """The weights of ``make_workload`` (``(in, out)``) as ``(out, in)``, Linear's layout."""
    return [p.T.copy() if i % 2 == 0 else p for i, p in enumerate(params)]


class SgMLP:
    """The sg-tensor training step with ``linear``, written as a user of the library would."""

    def __init__(self, size: Size, dtype: str) -> None:
        from sg_tensor import Tensor, linear, no_grad

        self.no_grad = no_grad  # bound here: an import statement inside step() costs time
        self.linear = linear
        x, y, initial = make_workload(size, dtype)
        self.initial = out_in_layout(initial)
        self.x, self.y = Tensor(x), Tensor(y)
        self.params = [Tensor(p.copy(), requires_grad=True) for p in self.initial]

    def reset(self) -> None:
        for p, p0 in zip(self.params, self.initial):
            p.data[...] = p0
            p.grad = None

    def step(self) -> float:
        params = self.params
        loss = mlp_mse_loss(params, self.x, self.y, self.linear)
        loss.backward()
        with self.no_grad():
            for p in params:
                p.data -= LR * p.grad
                p.grad = None
        return float(loss.item())


class SgMatmulMLP(SgMLP):
    """The same step spelled ``h @ W + b``, the weights in the ``(in, out)`` layout."""

    def __init__(self, size: Size, dtype: str) -> None:
        super().__init__(size, dtype)
        from sg_tensor import Tensor

        self.linear = lambda h, w, b: h @ w + b
        self.initial = [p.T.copy() if p.ndim == 2 else p for p in self.initial]
        self.params = [Tensor(p.copy(), requires_grad=True) for p in self.initial]


class SgNnMLP:
    """The whole user path: ``sg_nn`` layers, ``F.mse_loss``, ``sg_optim.SGD``."""

    def __init__(self, size: Size, dtype: str) -> None:
        import sg_nn
        import sg_optim
        from sg_nn import functional as F
        from sg_tensor import Tensor

        x, y, initial = make_workload(size, dtype)
        self.initial = out_in_layout(initial)
        layers: list[Any] = []
        for i, (fan_in, fan_out) in enumerate(zip(size.widths[:-1], size.widths[1:])):
            layers.append(sg_nn.Linear(fan_in, fan_out, dtype=dtype))
            if i < len(size.widths) - 2:
                layers.append(sg_nn.ReLU())
        self.model = sg_nn.Sequential(*layers)
        self.params = list(self.model.parameters())
        self.opt = sg_optim.SGD(self.params, lr=LR)
        self.x, self.y = Tensor(x), Tensor(y)
        model, opt, mse_loss = self.model, self.opt, F.mse_loss

        def train_step(x: Any, y: Any) -> Any:
            opt.zero_grad()
            loss = mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss

        self.train_step = self.wrap(train_step)
        self.reset()

    def wrap(self, train_step: Any) -> Any:
        return train_step

    def reset(self) -> None:
        for p, p0 in zip(self.params, self.initial):
            p.data[...] = p0
            p.grad = None

    def step(self) -> float:
        return float(self.train_step(self.x, self.y).item())


class SgCapturedMLP(SgNnMLP):
    """The user path's step through ``sg_tensor.capture``: recorded at the first call,
    replayed after."""

    def wrap(self, train_step: Any) -> Any:
        import sg_tensor

        return sg_tensor.capture(train_step)


class TorchMLP:
    """The PyTorch eager training step: plain tensors, the same expressions as sg's."""

    def __init__(self, size: Size, dtype: str) -> None:
        import torch

        self.torch = torch
        self.linear = torch.nn.functional.linear
        x, y, initial = make_workload(size, dtype)
        self.initial = out_in_layout(initial)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.params = [torch.tensor(p, requires_grad=True) for p in self.initial]

    def reset(self) -> None:
        torch = self.torch
        with torch.no_grad():
            for p, p0 in zip(self.params, self.initial):
                p.copy_(torch.from_numpy(p0))
                p.grad = None

    def step(self) -> float:
        params = self.params
        loss = mlp_mse_loss(params, self.x, self.y, self.linear)
        loss.backward()
        with self.torch.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None
        return float(loss.item())


MODELS = {
    "numpy": NumpyMLP, "sg-linear": SgMLP, "sg-matmul": SgMatmulMLP, "sg-nn": SgNnMLP,
    "sg-captured": SgCapturedMLP, "torch": TorchMLP, BASELINE: SgMLP,
}  # fmt: skip


def model_class(impl: str) -> Any:
    """The implementation's model (a ``+cached`` row runs its base implementation)."""
    return MODELS[impl.removesuffix(CACHED)]


# ------------------------------------------------------------------------------------------
# Worker process: one per implementation, driven by JSON lines on stdin.
# ------------------------------------------------------------------------------------------
def _time_blocks(model: Any, block: int, blocks: int, clock: str) -> tuple[list[float], float]:
    """Time ``blocks`` runs of ``block`` consecutive steps; return seconds per step of each.

    Steps of a few tens of microseconds are timed in blocks of a few milliseconds, so
    that reading the clock (about a microsecond for the CPU-time clock, a system call)
    is no part of what is measured. Also returns the last loss, to check it is finite.
    """
    read = time.process_time if clock == "cpu" else time.perf_counter
    step = model.step
    per_step = []
    loss = math.nan
    for _ in range(blocks):
        start = read()
        for _ in range(block):
            loss = step()
        per_step.append((read() - start) / block)
    return per_step, loss


def _minor_faults() -> int:
    """Page faults served without I/O so far (fresh memory being mapped in), or -1."""
    try:
        import resource
    except ImportError:  # not on Unix
        return -1
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _thread_report(impl: str) -> dict[str, Any]:
    """What the worker's libraries say about their thread pools."""
    report: dict[str, Any] = {v: os.environ.get(v) for v in THREAD_VARIABLES}
    if impl == "torch":
        import torch

        report["torch.get_num_threads()"] = torch.get_num_threads()
    try:  # optional: confirms what BLAS actually uses, when threadpoolctl is installed
        from threadpoolctl import threadpool_info
    except ImportError:
        return report
    report["threadpools"] = sorted(
        {f"{info['internal_api']}={info['num_threads']}" for info in threadpool_info()}
    )
    return report


def worker(impl: str, threads: int, clock: str) -> None:
    """Serve the parent's requests; stdout carries only the protocol's JSON lines."""
    for variable in THREAD_VARIABLES:  # already set by the parent; harmless when run by hand
        os.environ[variable] = str(threads)
    protocol = sys.stdout
    sys.stdout = sys.stderr  # a stray print from a library must not corrupt the protocol

    versions: dict[str, str] = {"python": platform.python_version()}
    import numpy as np

    versions["numpy"] = np.__version__
    if impl == "torch":
        import torch

        torch.set_num_threads(threads)
        versions["torch"] = torch.__version__
    elif impl.startswith("sg"):
        import sg_tensor

        versions["sg-tensor"] = sg_tensor.__version__
        versions[impl] = f"{sg_tensor.__version__} ({os.path.dirname(sg_tensor.__file__)})"

    models: dict[tuple[int, str], Any] = {}
    plans: dict[tuple[int, str], tuple[int, int]] = {}  # (steps per block, blocks)

    def model_for(size_index: int, dtype: str) -> Any:
        key = (size_index, dtype)
        if key not in models:
            models[key] = model_class(impl)(SIZES[size_index], dtype)
        return models[key]

    def reply(message: dict[str, Any]) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    for line in sys.stdin:
        request = json.loads(line)
        command = request["command"]
        if command == "quit":
            break
        if command == "hello":
            reply({"versions": versions, "threads": _thread_report(impl)})
            continue
        key = (request["size"], request["dtype"])
        model = model_for(*key)
        model.reset()
        if command == "check":
            reply({"losses": [model.step() for _ in range(CHECK_STEPS)]})
        elif command == "calibrate":
            # Warm up (the first calls allocate, fault pages in, pick BLAS kernels), then
            # see how long a step takes, and from that the block and measurement sizes.
            model.step()
            times, _ = _time_blocks(model, 1, 1, clock)
            while sum(times) < request["probe_s"]:
                more, _ = _time_blocks(model, 1, len(times), clock)
                times += more
            step_s = statistics.median(times)
            block = max(1, round(BLOCK_S / step_s))
            blocks = max(request["min_blocks"], math.ceil(request["target_s"] / (block * step_s)))
            plans[key] = (block, blocks)
            reply({"block": block, "blocks": blocks, "step_s": step_s})
        elif command == "memory":  # after the timing: the step's own peak, warm
            model.step()
            traced = impl.removesuffix(CACHED) != "torch"
            reply({"peak_bytes": machine.peak_bytes(model.step) if traced else None})
        elif command == "time":
            block, blocks = plans[key]
            # Untimed warm-up, after another process had the CPU and the caches: about a
            # tenth of the measurement, at least one step.
            _time_blocks(model, max(1, block * blocks // 10), 1, clock)
            faults = _minor_faults()
            times, loss = _time_blocks(model, block, blocks, clock)
            faults = _minor_faults() - faults
            reply(
                {
                    "median_s": statistics.median(times),
                    "mean_s": sum(times) / len(times),
                    "steps": block * blocks,
                    # A diagnostic: fresh memory mapped in per step (see the docstring).
                    "minor_faults_per_step": faults / (block * blocks),
                    "finite": math.isfinite(loss),
                }
            )
        else:
            raise ValueError(f"unknown command {command!r}")


# ------------------------------------------------------------------------------------------
# Parent: starts the workers, checks the workloads agree, interleaves the measurements.
# ------------------------------------------------------------------------------------------
# glibc hands large freed blocks back to the kernel and then faults fresh pages in on
# the next step; every array library pays this, an engine that keeps more temporaries
# alive pays more. A caching allocator (as PyTorch uses on GPUs) keeps them instead: the
# +cached rows show that cost, and --allocator cached gives the setting to every worker.


class Worker:
    """A worker process of one implementation, and the pipe to it."""

    def __init__(
        self, impl: str, threads: int, clock: str, allocator: str, baseline: str | None = None
    ) -> None:
        self.impl = impl
        env = dict(os.environ)
        if impl == BASELINE:  # the other checkout's sources come first on the path
            env["PYTHONPATH"] = os.pathsep.join(baseline_path(baseline))
        for variable in THREAD_VARIABLES:
            env[variable] = str(threads)
        if allocator == "cached" or impl.endswith(CACHED):
            env["GLIBC_TUNABLES"] = machine.CACHED_ALLOCATOR
        command = [sys.executable, os.path.abspath(__file__), "--worker", impl]
        self.process = subprocess.Popen(
            [*command, "--threads", str(threads), "--clock", clock],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )

    def request(self, command: str, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps({"command": command, **fields}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(
                f"the {self.impl} worker died (exit code {self.process.wait()}); "
                "its error is printed above"
            )
        return json.loads(line)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(json.dumps({"command": "quit"}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


Workers = dict[tuple[str, int, str], Worker]  # by (implementation, size index, dtype)


def check_workloads(workers: Workers) -> tuple[list[dict[str, Any]], bool]:
    """Run the first steps everywhere from the initial weights; the losses must agree."""
    rows, ok = [], True
    for size_index, dtype in CASES:
        losses = {
            impl: workers[impl, size_index, dtype].request("check", size=size_index, dtype=dtype)[
                "losses"
            ]
            for impl in IMPLS
        }
        reference = losses["numpy"]
        worst = 0.0
        for impl in IMPLS:
            for got, want in zip(losses[impl], reference):
                rel = abs(got - want) / max(abs(want), 1e-300)
                worst = max(worst, rel if math.isfinite(got) else math.inf)
        passed = worst <= LOSS_TOLERANCE[dtype]
        ok = ok and passed
        rows.append(
            {
                "case": case_name(size_index, dtype),
                "losses": losses,
                "max_rel_diff": worst,
                "tolerance": LOSS_TOLERANCE[dtype],
                "ok": passed,
            }
        )
    return rows, ok


def measure(workers: Workers, args: argparse.Namespace) -> dict[str, dict[str, dict[str, Any]]]:
    """Calibrate every (case, implementation), then time them in interleaved rounds."""
    settings = {
        "target_s": args.target,
        "probe_s": min(0.1, args.target / 2),
        "min_blocks": 1 if args.quick else 3,
    }
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for size_index, dtype in CASES:
        name = case_name(size_index, dtype)
        results[name] = {}
        for impl in IMPLS:
            w = workers[impl, size_index, dtype]
            cal = w.request("calibrate", size=size_index, dtype=dtype, **settings)
            results[name][impl] = {
                "steps_per_block": cal["block"],
                "blocks": cal["blocks"],
                "medians_s": [],
                "means_s": [],
                "minor_faults_per_step": [],
            }
    for round_index in range(args.rounds):
        _progress(f"round {round_index + 1}/{args.rounds}")
        for case_index, (size_index, dtype) in enumerate(CASES):
            name = case_name(size_index, dtype)
            shift = (round_index + case_index) % len(IMPLS)
            for impl in IMPLS[shift:] + IMPLS[:shift]:  # a different one goes first each time
                w = workers[impl, size_index, dtype]
                answer = w.request("time", size=size_index, dtype=dtype)
                if not answer["finite"]:
                    raise RuntimeError(f"{impl} {name}: the loss is no longer finite")
                results[name][impl]["medians_s"].append(answer["median_s"])
                results[name][impl]["means_s"].append(answer["mean_s"])
                results[name][impl]["minor_faults_per_step"].append(
                    answer["minor_faults_per_step"]
                )
    _progress("memory per step")
    for size_index, dtype in CASES:
        name = case_name(size_index, dtype)
        for impl in IMPLS:
            answer = workers[impl, size_index, dtype].request(
                "memory", size=size_index, dtype=dtype
            )
            results[name][impl]["peak_bytes"] = answer["peak_bytes"]
    for per_impl in results.values():
        for entry in per_impl.values():
            entry["best_s"] = min(entry["medians_s"])
    return results


def _progress(message: str) -> None:
    print(f"  ... {message}", file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    """A step time with a unit that keeps three significant digits readable."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e3:.2f} ms"


def summarize(
    results: dict[str, dict[str, dict[str, Any]]], require_ahead_of_torch: bool
) -> tuple[list[dict[str, Any]], list[str], bool]:
    """One row per case and implementation (time, ratio to numpy, memory), and the
    PASS/FAIL lines of the targets."""
    rows, lines, ok = [], [], True
    for size_index, dtype in CASES:
        size = SIZES[size_index]
        per_impl = results[case_name(size_index, dtype)]
        numpy_s = per_impl["numpy"]["best_s"]
        where = f"{size.name} batch {size.batch} {dtype}"
        for impl in IMPLS:
            entry = per_impl[impl]
            ratio = entry["best_s"] / numpy_s
            target = TARGETS.get(impl, (None,) * len(SIZES))[size_index]
            if dtype != "float64":
                target = None
            rows.append(
                {
                    "size": size.name, "batch": size.batch, "dtype": dtype, "impl": impl,
                    "time_s": entry["best_s"], "over_numpy": ratio,
                    # Diagnostic: the median over rounds of impl/numpy within one round.
                    "paired_over_numpy_median": statistics.median(
                        a / b for a, b in zip(entry["medians_s"], per_impl["numpy"]["medians_s"])
                    ),
                    "peak_bytes": entry.get("peak_bytes"),
                    "minor_faults_per_step": min(entry["minor_faults_per_step"]),
                    "target": target,
                }
            )  # fmt: skip
            if target is not None:
                met = ratio <= target
                ok = ok and met
                lines.append(
                    f"{'PASS' if met else 'FAIL'}  {impl}/numpy = {ratio:.3f} <= {target} "
                    f"at {where}"
                )
        for impl in ("sg-linear", "sg-captured"):
            over_torch = per_impl[impl]["best_s"] / per_impl["torch"]["best_s"]
            ahead = over_torch < 1.0
            enforced = require_ahead_of_torch and impl == "sg-captured"
            verdict = ("PASS" if ahead else "FAIL") if enforced else "INFO"
            ok = ok and (ahead or not enforced)
            lines.append(
                f"{verdict}  {impl} is {'ahead of' if ahead else 'behind'} torch at {where} "
                f"({impl}/torch = {over_torch:.3f})"
            )
        if BASELINE in per_impl:  # the same sg step, from the --baseline checkout
            over = per_impl["sg-linear"]["best_s"] / per_impl[BASELINE]["best_s"]
            lines.append(f"INFO  sg-linear/baseline = {over:.3f} at {where}")
    return rows, lines, ok


def _memory(peak: int | None) -> str:
    return "-" if peak is None else f"{peak / 2**20:.2f} MiB"


def format_table(rows: list[dict[str, Any]]) -> str:
    header = ("size", "batch", "dtype", "implementation", "time/step", "/numpy", "memory/step",
              "faults/step")  # fmt: skip
    body = []
    for r in rows:
        body.append(
            (
                r["size"], str(r["batch"]), r["dtype"], r["impl"], _duration(r["time_s"]),
                f"{r['over_numpy']:.3f}", _memory(r["peak_bytes"]),
                f"{r['minor_faults_per_step']:.0f}",
            )
        )  # fmt: skip
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    left = 4  # the first four columns are labels, the rest numbers

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    rule = "-" * len(fmt(header))
    lines = [fmt(header), rule]
    for k, line in enumerate(body):
        if k and rows[k]["size"] + rows[k]["dtype"] != rows[k - 1]["size"] + rows[k - 1]["dtype"]:
            lines.append("")
        lines.append(fmt(line))
    return "\n".join(lines)


def baseline_path(checkout: str | None) -> list[str]:
    """The source folders of sg-scalar and sg-tensor in another checkout of sg."""
    if checkout is None:
        raise ValueError("no --baseline checkout given")
    return [os.path.join(checkout, "packages", p, "src") for p in ("sg-scalar", "sg-tensor")]


def run(args: argparse.Namespace) -> int:
    for variable in THREAD_VARIABLES:  # for this process too, should it ever load BLAS
        os.environ[variable] = str(args.threads)
    started = time.perf_counter()
    # One worker per (implementation, case); a --quick smoke run shares one worker per
    # implementation across the cases instead, since starting 18 interpreters (six of
    # them importing torch) takes longer than the quick measurements themselves.
    started_workers: dict[tuple[Any, ...], Worker] = {}
    workers: Workers = {}
    for impl in IMPLS:
        for size_index, dtype in CASES:
            key = (impl,) if args.quick else (impl, size_index, dtype)
            if key not in started_workers:
                started_workers[key] = Worker(
                    impl, args.threads, args.clock, args.allocator, args.baseline
                )
            workers[impl, size_index, dtype] = started_workers[key]
    _progress(
        f"started {len(started_workers)} workers ({', '.join(IMPLS)}"
        f"{'' if args.quick else ', one per case'}) with {args.threads} thread(s)"
    )
    try:
        hello = {impl: workers[(impl, *CASES[0])].request("hello") for impl in IMPLS}
        for w in started_workers.values():  # wait until every worker has started
            w.request("hello")
        _progress("checking that the three compute the same losses")
        checks, same_workload = check_workloads(workers)
        results = measure(workers, args) if same_workload else {}
    finally:
        for w in started_workers.values():
            w.close()

    versions = {k: v for info in hello.values() for k, v in info["versions"].items()}
    print()
    print(
        "One MLP training step (forward, MSE loss, backward, SGD update): "
        f"sg-tensor {versions.get('sg-tensor')} vs hand-written numpy {versions['numpy']} "
        f"vs torch {versions.get('torch')} (eager, CPU); Python {versions['python']}"
    )
    for line in machine.header(args.threads):
        print(line)
    if args.allocator == "cached":
        tuned = machine.allocator(machine.CACHED_ALLOCATOR)
        print(f"  --allocator cached: every worker runs with {tuned}")
    else:
        print(f"  rows marked {CACHED}: {machine.allocator(machine.CACHED_ALLOCATOR)}")
    print(f"Clock: {CLOCKS[args.clock]}; each worker's thread pools:")
    for impl in IMPLS:
        print(f"  {impl:18} {json.dumps(hello[impl]['threads'])}")
    print("Workload check (losses of the first steps from identical weights and data):")
    for c in checks:
        mark = "ok" if c["ok"] else "MISMATCH"
        print(
            f"  {c['case']:26} max relative difference {c['max_rel_diff']:.1e} "
            f"(tolerance {c['tolerance']:.0e}): {mark}"
        )
    if not same_workload:
        print("FAIL  the implementations do not compute the same thing; nothing was timed")
        return 2

    rows, lines, targets_met = summarize(results, args.require_ahead_of_torch)
    print(
        f"Time per step: the minimum over {args.rounds} interleaved round(s) of the median "
        f"step time in a round (~{args.target} s of steps per measurement)"
    )
    print()
    print(format_table(rows))
    print()
    for line in lines:
        print(line)
    elapsed = time.perf_counter() - started
    print(f"(total {elapsed:.0f} s)")

    if args.json:
        numbers = {
            "benchmark": "bench_tensor",
            "config": {
                "threads": args.threads,
                "clock": args.clock,
                "rounds": args.rounds,
                "target_s": args.target,
                "quick": args.quick,
                "seed": SEED,
                "lr": LR,
                "statistic": "min over rounds of the per-round median step time",
                "platform": platform.platform(),
                "machine": platform.machine(),
                "cpu_count": os.cpu_count(),
                "cpu": machine.cpu_model(),
                "blas": machine.blas(),
                "allocator": args.allocator,
            },
            "versions": versions,
            "threads": {impl: hello[impl]["threads"] for impl in IMPLS},
            "checks": checks,
            "raw": results,
            "rows": rows,
            "verdicts": lines,
            "targets_met": targets_met,
            "elapsed_s": elapsed,
        }
        with open(args.json, "w") as f:
            json.dump(numbers, f, indent=2)
            f.write("\n")
    if not targets_met and not args.no_fail:
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    global IMPLS  # --baseline adds an implementation
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS/OpenMP threads for every implementation"
    )
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (9)")
    parser.add_argument(
        "--target", type=float, default=None, help="seconds of steps per measurement (0.25)"
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run: 1 round")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers here as JSON")
    parser.add_argument(
        "--no-fail", action="store_true", help="exit 0 even when a speed target is missed"
    )
    parser.add_argument(
        "--require-ahead-of-torch",
        action="store_true",
        help="also fail when sg-tensor is slower than torch (otherwise reported only)",
    )
    parser.add_argument(
        "--clock",
        choices=("auto", "cpu", "wall"),
        default="auto",
        help="what a step's time is: the process's CPU time (auto's choice with one thread) "
        "or wall-clock time (auto's choice with several)",
    )
    parser.add_argument(
        "--allocator",
        choices=("cached", "default"),
        default="default",
        help="glibc malloc settings of the headline rows: glibc's defaults (what a user "
        "has), or a tuned setting that keeps freed memory for reuse (cached)",
    )
    parser.add_argument(
        "--baseline",
        metavar="CHECKOUT",
        help="also time sg-tensor from another checkout of sg (its packages/*/src), same run",
    )
    parser.add_argument("--worker", choices=(*IMPLS, BASELINE), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.clock == "auto":
        args.clock = "cpu" if args.threads == 1 else "wall"
    if args.worker:
        worker(args.worker, args.threads, args.clock)
        return 0
    if args.baseline:
        IMPLS = (*IMPLS, BASELINE)
    if args.rounds is None:
        args.rounds = 1 if args.quick else 9
    if args.target is None:
        args.target = 0.02 if args.quick else 0.25
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
