"""Honest evaluation: held-out kits, per descriptor, beside the constant-median baseline.

Keras models and ``.tflite`` files go through the same metrics; a ``.tflite`` runs
through the daemon's own runtime layer, so the figures are what the daemon does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timbrecast.daemon.contract import DESCRIPTORS
from timbrecast.daemon.model import Model
from timbrecast.trainer.dataset import SPAN, Part, denormalise, normalise


@dataclass(frozen=True)
class Metrics:
    """Per-descriptor figures (arrays in ``DESCRIPTORS`` order) and their means."""

    mae: np.ndarray
    mae_points: np.ndarray
    pearson: np.ndarray
    baseline: np.ndarray
    count: int

    @property
    def overall(self) -> dict[str, float]:
        return {
            "mae": float(self.mae.mean()),
            "mae_points": float(self.mae_points.mean()),
            "pearson": float(np.nanmean(self.pearson)),
            "baseline": float(self.baseline.mean()),
        }


def predict(model_path: Path, clips: np.ndarray) -> np.ndarray:
    """Descriptors on the normalised scale, as published (clipped to 0-100)."""
    if model_path.suffix == ".tflite":
        return normalise(Model(model_path, batch=32).predict(clips))
    import tensorflow as tf

    keras = tf.keras.models.load_model(model_path)
    raw = keras.predict(clips[..., None], batch_size=64, verbose=0)
    return normalise(denormalise(raw))


def metrics(predicted: np.ndarray, part: Part, train_targets: np.ndarray) -> Metrics:
    targets = part.targets
    error = np.abs(predicted - targets)
    median = np.median(train_targets, axis=0)
    pearson = np.array(
        [
            np.corrcoef(predicted[:, k], targets[:, k])[0, 1]
            if np.std(predicted[:, k]) > 0
            else np.nan
            for k in range(targets.shape[1])
        ]
    )
    return Metrics(
        mae=error.mean(axis=0),
        mae_points=error.mean(axis=0) * SPAN,
        pearson=pearson,
        baseline=np.abs(median - targets).mean(axis=0),
        count=len(part),
    )


def table(rows: dict[str, Metrics]) -> str:
    """Markdown: one row per descriptor per subset, overall last."""
    lines = [
        "| subset | descriptor | MAE (normalised) | MAE (0-100 points) | Pearson r "
        "| median baseline MAE | clips |",
        "|---|---|---|---|---|---|---|",
    ]
    for subset, m in rows.items():
        for k, name in enumerate(DESCRIPTORS):
            lines.append(
                f"| {subset} | {name} | {m.mae[k]:.4f} | {m.mae_points[k]:.2f} | "
                f"{m.pearson[k]:.3f} | {m.baseline[k]:.4f} | {m.count} |"
            )
        o = m.overall
        lines.append(
            f"| {subset} | **all seven** | **{o['mae']:.4f}** | {o['mae_points']:.2f} | "
            f"{o['pearson']:.3f} | {o['baseline']:.4f} | {m.count} |"
        )
    return "\n".join(lines)


def scatter(predicted: np.ndarray, part: Part, out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(14, 7))
    for k, name in enumerate(DESCRIPTORS):
        ax = axes.flat[k]
        ax.scatter(part.targets[:, k], predicted[:, k], s=6, alpha=0.5)
        ax.plot([0, 1], [0, 1], color="grey", linewidth=1)
        ax.set_title(name)
        ax.set_xlabel("teacher (normalised)")
        ax.set_ylabel("model")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
    axes.flat[7].axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
