"""Honest evaluation: held-out kits, per descriptor, beside the constant-median baseline.

Keras models and ``.tflite`` files go through the same metrics; a ``.tflite`` runs
through the daemon's own runtime layer, so the figures are what the daemon does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timbrecast.daemon.contract import DESCRIPTORS, LABEL_SCALE, early_ms_of
from timbrecast.daemon.inference import Model
from timbrecast.daemon.preprocess import early, zero_padded
from timbrecast.daemon.tflitemeta import read_contract
from timbrecast.trainer import architectures
from timbrecast.trainer.dataset import Part


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
    """Descriptors on the normalised scale, as published (clipped to 0-100).

    An early-estimate model is fed what it would hear of each (full) clip.
    """
    if model_path.suffix == ".tflite":
        model = Model(model_path, batch=32)
        return LABEL_SCALE.normalise(model.predict(_heard(clips, model.contract.early_ms)))
    keras = architectures.load(model_path)
    heard = _heard(clips, early_ms_of(int(keras.input_shape[1])))
    raw = keras.predict(heard[..., None], batch_size=64, verbose=0)
    return LABEL_SCALE.normalise(LABEL_SCALE.points(raw))


def _heard(clips: np.ndarray, early_ms: float | None) -> np.ndarray:
    return clips if early_ms is None else early(clips, early_ms)


def reads_ms(model_path: Path) -> float | None:
    """How many ms after the attack a model reads (``None``: the whole second)."""
    if model_path.suffix == ".tflite":
        return read_contract(model_path.read_bytes()).early_ms
    return early_ms_of(int(architectures.load(model_path).input_shape[1]))


#: Milliseconds after the attack at which the early curve is measured.
CURVE_MS = (10, 25, 50, 100, 250, 500, 1000)


def early_curve(
    full: Path, early_models: list[Path], part: Part, train_targets: np.ndarray
) -> dict[str, dict[float, float]]:
    """MAE against N: the full model fed the first N ms zero-padded, and each early model."""
    curves: dict[str, dict[float, float]] = {f"{full.name}, zero-padded": {}}
    for ms in CURVE_MS:
        clips = zero_padded(early(part.clips, ms))
        predicted = predict(full, clips)
        curves[f"{full.name}, zero-padded"][ms] = metrics(predicted, part, train_targets).overall[
            "mae"
        ]
    for path in early_models:
        ms = reads_ms(path)
        assert ms is not None, f"{path} is not an early-estimate model"
        predicted = predict(path, part.clips)
        curves.setdefault("early models", {})[ms] = metrics(predicted, part, train_targets).overall[
            "mae"
        ]
    return curves


def curve_table(curves: dict[str, dict[float, float]]) -> str:
    points = sorted({ms for curve in curves.values() for ms in curve})
    lines = [
        "| model | " + " | ".join(f"{ms:g} ms" for ms in points) + " |",
        "|---|" + "---|" * len(points),
    ]
    for name, curve in curves.items():
        cells = [f"{curve[ms]:.4f}" if ms in curve else "" for ms in points]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curve_plot(curves: dict[str, dict[float, float]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, curve in curves.items():
        points = sorted(curve)
        ax.plot(points, [curve[ms] for ms in points], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("audio heard after the attack (ms)")
    ax.set_ylabel("MAE, held-out kits (normalised)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


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
        mae_points=error.mean(axis=0) * LABEL_SCALE.span,
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


def report(model: Path, parts: dict[str, Part], out: Path, early: list[Path], curve: bool) -> str:
    """The evaluation of ``model`` as Markdown, written to ``out/report.md`` with its
    plots: the held-out kits' real hits (all, the Debian kits', the drum machines')
    and all clips, the validation kits, and (with ``curve`` or early models) MAE
    against the milliseconds heard."""
    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    subsets = (
        ("test kits, real hits", parts["test"].real()),
        ("test kits, all clips", parts["test"]),
        ("test Debian kits, real hits", parts["test"].real().machines(False)),
        ("test drum machines, real hits", parts["test"].real().machines()),
        ("validation kits, all clips", parts["validation"]),
    )
    empty = [name for name, part in subsets if not len(part)]
    for name, part in subsets:
        if name in empty:
            continue
        predicted = predict(model, part.clips)
        rows[name] = metrics(predicted, part, parts["train"].targets)
        if name == "test kits, real hits":
            scatter(
                predicted,
                part,
                out / "predicted-vs-teacher.png",
                f"{model.name}: held-out kits, real hits",
            )
    text = (
        f"# Evaluation of `{model}`\n\n"
        "MAE on the seed's normalised scale (Freesound min-max ranges), in 0-100 points, "
        "Pearson r, and the MAE of always predicting the training median.\n\n"
        + table(rows)
        + "".join(f"\n\nNo clips in this corpus: {name}." for name in empty)
        + "\n"
    )
    if "test kits, real hits" in rows:
        text += "\n![predicted against teacher](predicted-vs-teacher.png)\n"
    if curve or early:
        curves = early_curve(model, early, parts["test"], parts["train"].targets)
        curve_plot(curves, out / "mae-vs-ms.png")
        text += (
            "\n## MAE against the audio heard (test kits, all clips)\n\n"
            "The full model fed the first N ms after the attack, zero-padded to 1 s, and "
            "each early-estimate model at its own N.\n\n"
            + curve_table(curves)
            + "\n\n![MAE against N](mae-vs-ms.png)\n"
        )
    (out / "report.md").write_text(text)
    return text
