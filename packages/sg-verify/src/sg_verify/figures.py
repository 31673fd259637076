"""PNG figures of the report (matplotlib, the ``plots`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sg_verify.tolerances import TORCH2_TOL, TORCH_TOL


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: Path, dpi: int = 120) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def available() -> bool:
    """Whether figures can be drawn (matplotlib is installed)."""
    return _pyplot() is not None


def operator_errors(rows: list[dict[str, Any]], path: Path) -> None:
    """Per-operator worst error of each oracle, first and second order, on a log scale.

    Operators run down the page (one row each), so the figure stays readable at the
    width of a page however many operators there are.
    """
    plt = _pyplot()
    labels = [f"{r['engine']}: {r['op']}" for r in rows]
    y = np.arange(len(rows))

    def column(key: str) -> np.ndarray:
        return np.array([max(r.get(key) or 0.0, 1e-18) for r in rows])

    fig, axes = plt.subplots(1, 2, figsize=(10, 1.2 + 0.17 * len(rows)), sharey=True)
    panels = [
        (axes[0], "first order", ("fd_worst", "torch_worst"), TORCH_TOL),
        (axes[1], "second order", ("fd2_worst", "torch2_worst"), TORCH2_TOL),
    ]
    for ax, title, (fd_key, torch_key), torch_limit in panels:
        ax.barh(y - 0.2, column(fd_key), 0.4, label="finite differences")
        ax.barh(y + 0.2, column(torch_key), 0.4, label="PyTorch float64")
        ax.set_xscale("log")
        ax.set_xlim(1e-18, 1e-3)
        ax.axvline(torch_limit, color="C1", linestyle="--", linewidth=0.8)
        ax.set_title(f"{title} (dashed: PyTorch's threshold; no bar: exact)", fontsize=9)
        ax.set_xlabel("worst scale-aware difference", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, labels)
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=7, loc="lower right")
    _save(plt, fig, path, dpi=110)


def parity_histogram(differences: dict[str, np.ndarray], path: Path) -> None:
    """Histogram of the per-expression worst difference against PyTorch."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.logspace(-18, -10, 50)
    for label, values in differences.items():
        ax.hist(np.clip(values, 1e-18, None), bins=bins, alpha=0.6, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("|g_sg - g_torch| / max(1, |g_torch|), worst per expression")
    ax.set_ylabel("expressions")
    ax.set_title("Random-expression parity against PyTorch float64")
    ax.legend(fontsize=8)
    _save(plt, fig, path)


def decision_boundary(model: Any, X: np.ndarray, y: np.ndarray, path: Path) -> None:
    """The trained two-moons classifier's decision regions with the held-out points."""
    import sg_tensor as st

    plt = _pyplot()
    xs = np.linspace(X[:, 0].min() - 0.5, X[:, 0].max() + 0.5, 200)
    ys = np.linspace(X[:, 1].min() - 0.5, X[:, 1].max() + 0.5, 200)
    gx, gy = np.meshgrid(xs, ys)
    with st.no_grad():
        scores = model(np.stack([gx.ravel(), gy.ravel()], axis=1)).data.reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.contourf(gx, gy, scores > 0, alpha=0.3, cmap="coolwarm")
    ax.contour(gx, gy, scores, levels=[0], colors="k", linewidths=0.8)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=12, edgecolors="k", linewidths=0.3)
    ax.set_title("Two moons: MLP 2-16-16-1 trained with sg (held-out points)")
    _save(plt, fig, path)
