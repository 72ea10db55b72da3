"""PNG plots for reports and MLflow: PR curves per language, reliability, confusion, F1."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on these machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import confusion_matrix, precision_recall_curve  # noqa: E402


def pr_curve_png(y, p, langs, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 4))
    groups = [("all", np.ones(len(y), bool))] + [
        (lang, np.array([x == lang for x in langs])) for lang in sorted(set(langs))
    ]
    for name, mask in groups:
        if len(set(np.asarray(y)[mask].tolist())) == 2:
            prec, rec, _ = precision_recall_curve(np.asarray(y)[mask], np.asarray(p)[mask])
            ax.plot(rec, prec, label=name, lw=2 if name == "all" else 1)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Risk: precision-recall")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def reliability_png(y, p, path: Path, bins: int = 10) -> None:
    y, p = np.asarray(y), np.asarray(p)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    xs, ys = [], []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            xs.append(p[mask].mean())
            ys.append(y[mask].mean())
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.plot(xs, ys, "o-")
    ax.set_xlabel("predicted risk")
    ax.set_ylabel("observed share risky")
    ax.set_title("Reliability")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def confusion_png(y, p, bands: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.2))
    for ax, band in zip(axes, ("medium", "high"), strict=True):
        cm = confusion_matrix(y, np.asarray(p) >= bands[band], labels=[0, 1])
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center")
        ax.set_xticks([0, 1], ["pred 0", "pred 1"])
        ax.set_yticks([0, 1], ["true 0", "true 1"])
        ax.set_title(f"risk >= {bands[band]:.2f} ({band})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def indicator_f1_png(per_indicator: dict, path: Path) -> None:
    names = list(per_indicator)
    f1 = [per_indicator[n]["f1"] for n in names]
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.barh(names, f1)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("F1")
    ax.set_title("Indicators")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def risk_priority_png(splits: dict, path: Path) -> None:
    """Histograms of risk and priority per split (`splits`: name -> (y, risk, priority)), risky
    and other ads apart: a triage order needs the risky ads spread out, not piled at 1.0."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    bins = np.linspace(0, 1, 41)
    for ax, col, title in ((axes[0], 1, "risk"), (axes[1], 2, "priority")):
        for name, arrays in splits.items():
            y, v = np.asarray(arrays[0]), np.asarray(arrays[col], dtype=float)
            ax.hist(v[y == 1], bins=bins, histtype="step", lw=1.5, label=f"{name}: risky")
            ax.hist(v[y == 0], bins=bins, histtype="step", lw=1, ls="--", label=f"{name}: other")
        ax.set_yscale("log")
        ax.set_xlabel(title)
        ax.set_title(f"{title.capitalize()} of dev/test/gold ads")
    axes[0].set_ylabel("ads (log scale)")
    axes[1].legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def calibration_png(splits: dict, path: Path, bins: int = 10) -> None:
    """Reliability lines per split (`splits`: name -> (y, p, ece)), the ECE in the legend."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    edges = np.linspace(0, 1, bins + 1)
    for name, (y, p, ece) in splits.items():
        y, p = np.asarray(y), np.asarray(p)
        idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
        xs = [p[idx == b].mean() for b in range(bins) if (idx == b).any()]
        ys = [y[idx == b].mean() for b in range(bins) if (idx == b).any()]
        ax.plot(xs, ys, "o-", ms=3, label=f"{name} (ECE {ece:.3f})")
    ax.set_xlabel("predicted risk")
    ax.set_ylabel("observed share risky")
    ax.set_title("Risk calibration")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
