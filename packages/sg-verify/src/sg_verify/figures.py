"""PNG figures of the report (matplotlib, the ``plots`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def available() -> bool:
    """Whether figures can be drawn (matplotlib is installed)."""
    return _pyplot() is not None


def operator_errors(rows: list[dict[str, Any]], path: Path) -> None:
    """Per-operator worst error of both oracles, on a log scale."""
    plt = _pyplot()
    labels = [f"{r['engine'][0]}:{r['op']}" for r in rows]
    fd = np.array([max(r["fd_worst"], 1e-18) for r in rows])
    torch = np.array([max(r["torch_worst"] or 0.0, 1e-18) for r in rows])
    fig, ax = plt.subplots(figsize=(max(8, len(rows) * 0.28), 4.5))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, fd, 0.4, label="finite differences (scale-aware)")
    ax.bar(x + 0.2, torch, 0.4, label="PyTorch float64 (scale-aware)")
    ax.set_yscale("log")
    ax.axhline(1e-6, color="C0", linestyle="--", linewidth=0.8)
    ax.axhline(1e-12, color="C1", linestyle="--", linewidth=0.8)
    ax.set_xticks(x, labels, rotation=90, fontsize=7)
    ax.set_ylabel("worst gradient error")
    ax.set_title("Per-operator worst error (dashed: the oracles' thresholds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
