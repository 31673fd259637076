"""``sg-verify check FILE.py:NAME``: check a rule defined in a file, from the shell.

The file defines ``NAME`` (an ``sg_tensor.Function`` subclass, a function of Tensors, or
a ``torch.autograd.Function`` subclass, checked with :func:`check_torch`) and says where
to check it, in a module-level ``EXAMPLES`` dict (or a ``sample_inputs()`` function
returning one) mapping ``NAME`` to

- a tuple of inputs (arrays or numbers): one point;
- a list of such tuples: each point is checked;
- a dict of :func:`sg_verify.check`'s keyword arguments, with the inputs under
  ``"inputs"`` (``{"inputs": (x,), "params": {"beta": 2.0}, "probes": [(zeros,)],
  "torch_fn": softplus}``).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import uuid
from pathlib import Path
from typing import Any

import sg_tensor as st
from sg_verify.custom.check import check, inputs_and_dtype
from sg_verify.custom.result import CheckResult

__all__ = ["TargetError", "check_target", "load_target"]


class TargetError(ValueError):
    """``FILE.py:NAME`` cannot be loaded or says nothing to check."""


def load_target(target: str) -> tuple[Any, list[dict[str, Any]]]:
    """The object ``NAME`` of ``FILE.py:NAME`` and its examples, as keyword arguments."""
    path_text, colon, name = target.rpartition(":")
    if not colon or not path_text or not name:
        raise TargetError(f"expected FILE.py:NAME, got {target!r}")
    path = Path(path_text)
    if not path.is_file():
        raise TargetError(f"{path_text}: no such file")
    module_name = f"_sg_check_{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"{path_text}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:  # sys.exit() in the file is its error too
        del sys.modules[module_name]
        why = f"{type(error).__name__}: {error}"
        raise TargetError(f"{path_text}: importing it raised {why}") from error
    if not hasattr(module, name):
        raise TargetError(f"{path_text} defines no {name!r}")
    obj, examples = getattr(module, name), _examples(module, path_text, name)
    if not callable(obj):
        raise TargetError(
            f"{path_text}: {name} is a {type(obj).__name__}, not a Function class or a "
            "function to check"
        )
    return obj, examples


def _examples(module: Any, path: str, name: str) -> list[dict[str, Any]]:
    """The examples of ``NAME``, each with inputs :func:`check` takes: a mistake in them
    is a usage error (exit status 2), not a failure of the rule."""
    examples = _listed_examples(module, path, name)
    for k, example in enumerate(examples):
        try:
            inputs_and_dtype(example["inputs"], example.get("dtype"))
        except (TypeError, ValueError) as error:
            raise TargetError(f"{_where(path, name, k, len(examples))}: {error}") from None
    return examples


def _where(path: str, name: str, k: int, count: int) -> str:
    return f"{path}: EXAMPLES[{name!r}]" + (f" (example {k})" if count > 1 else "")


def _options(
    run: Any, example: dict[str, Any], where: str, given: dict[str, Any], label: str
) -> dict[str, Any]:
    """An example's keyword arguments for ``run`` (:func:`check` or :func:`check_torch`):
    its own, then the command line's where they are not its defaults (``--dtype``,
    ``--seed``, ``--no-mutants``); an option ``run`` does not take is a usage error."""
    allowed = set(inspect.signature(run).parameters) - {"fn", "inputs"}
    options = {k: v for k, v in example.items() if k != "inputs"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TargetError(
            f"{where}: unknown option(s) {unknown}; {run.__name__} takes {sorted(allowed)}"
        )
    defaults = {"dtype": None, "seed": 0, "mutants": True}
    for key, value in given.items():
        default = defaults[key]  # (np.dtype("float64") == None: None is compared by identity)
        changed = value is not None if default is None else value != default
        if changed or key not in options:
            options[key] = value
    options.setdefault("name", label)
    return options


def _listed_examples(module: Any, path: str, name: str) -> list[dict[str, Any]]:
    table = getattr(module, "EXAMPLES", None)
    if table is None and callable(getattr(module, "sample_inputs", None)):
        try:
            table = module.sample_inputs()
        except Exception as error:
            why = f"{type(error).__name__}: {error}"
            raise TargetError(f"{path}: sample_inputs() raised {why}") from error
    if not isinstance(table, dict) or name not in table:
        raise TargetError(
            f"{path}: no examples for {name!r}: define EXAMPLES = {{{name!r}: (inputs...)}} "
            "or a sample_inputs() function returning such a dict"
        )
    entry = table[name]
    if isinstance(entry, dict):
        if "inputs" not in entry:
            raise TargetError(f"{path}: EXAMPLES[{name!r}] is a dict without 'inputs'")
        inputs = entry["inputs"]
        options = {k: v for k, v in entry.items() if k != "inputs"}
        return [{"inputs": tuple(inputs), **options}]
    if isinstance(entry, list):
        if not entry:
            raise TargetError(f"{path}: EXAMPLES[{name!r}] is an empty list")
        return [{"inputs": tuple(e) if isinstance(e, (tuple, list)) else (e,)} for e in entry]
    return [{"inputs": tuple(entry) if isinstance(entry, tuple) else (entry,)}]


def _is_torch(obj: Any) -> bool:
    torch = sys.modules.get("torch")  # a file that defines a torch Function imported it
    if torch is None or not isinstance(obj, type):
        return False
    return issubclass(obj, torch.autograd.Function)


def check_target(
    target: str,
    *,
    dtype: Any = None,
    seed: int = 0,
    mutants: bool = True,
    torch: bool = False,
) -> list[CheckResult]:
    """Every example of ``FILE.py:NAME`` checked (with :func:`check_torch` for PyTorch)."""
    obj, examples = load_target(target)
    name = target.rpartition(":")[2]
    results = []
    path = target.rpartition(":")[0]
    given = {"dtype": dtype, "seed": seed, "mutants": mutants}
    for k, example in enumerate(examples):
        label = name if len(examples) == 1 else f"{name} (example {k})"
        where = _where(path, name, k, len(examples))
        if torch or _is_torch(obj):
            from sg_verify.custom.torch_rule import check_torch

            example = {k: v for k, v in example.items() if k != "torch_fn"}  # it is torch
            run: Any = check_torch
        else:
            run = check
        options = _options(run, example, where, given, label)
        try:
            results.append(run(obj, *example["inputs"], **options))
        except Exception as error:
            # The checks report what the rule does wrong as failed rows; what escapes
            # is refused before any check (an option, a probe, a forward that does not
            # run or is not finite at the example): a usage error, exit status 2.
            text = " ".join(str(error).split())
            if not text.startswith(("check:", "check_torch:")):  # the forward itself raised
                text = f"{type(error).__name__}: {text}"
                if run is check and _torch_made(obj):  # torch refuses sg's Tensors
                    text += "; for a plain torch function, pass --torch"
            raise TargetError(f"{where}: {text}") from error
    return results


def _torch_made(obj: Any) -> bool:
    """Whether ``obj`` looks like a torch function: torch's own, or defined in a module
    that imported torch (then given sg Tensors, it raises)."""
    torch = sys.modules.get("torch")
    if torch is None or (isinstance(obj, type) and issubclass(obj, st.Function)):
        return False
    if str(getattr(obj, "__module__", "") or "").startswith("torch"):
        return True
    return any(value is torch for value in getattr(obj, "__globals__", {}).values())
