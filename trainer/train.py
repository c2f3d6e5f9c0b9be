"""Training one architecture on the corpus: deterministic for a seed, early-stopped
on validation MAE, with a CSV log, a plot of the loss curves and the best epoch kept."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from timbrecast.trainer import architectures
from timbrecast.trainer.dataset import Part


@dataclass(frozen=True)
class TrainSettings:
    arch: str = architectures.DEFAULT
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 8
    seed: int = 0
    #: Train an early-estimate model on the first ``early_ms`` of each hit.
    early_ms: float | None = None
    #: A pseudo-labelled set added to the training side (``trainer distill``), and
    #: the network that labelled it.
    pseudo: str | None = None
    pseudo_network: str | None = None


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    best_epoch: int
    best_val_mae: float
    epochs_run: int
    seconds: float
    parameters: int


def plot_history(history_csv: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = np.genfromtxt(history_csv, delimiter=",", names=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(rows["epoch"] + 1, rows["loss"], label="training MAE")
    ax.plot(rows["epoch"] + 1, rows["val_loss"], label="validation MAE")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MAE (normalised scale)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def inputs(clips: np.ndarray, early_ms: float | None) -> np.ndarray:
    """Model inputs: the whole clips, or what an early estimate hears of them."""
    from timbrecast.daemon.preprocess import early

    return clips if early_ms is None else early(clips, early_ms)


def train(train: Part, validation: Part, settings: TrainSettings, run_dir: Path) -> TrainResult:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(settings.seed)
    tf.config.experimental.enable_op_determinism()
    run_dir.mkdir(parents=True, exist_ok=True)
    model = architectures.build(settings.arch, settings.early_ms)
    model.compile(optimizer=tf.keras.optimizers.Adam(settings.learning_rate), loss="mae")
    callbacks = [
        tf.keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=settings.patience, restore_best_weights=True
        ),
        tf.keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3),
        tf.keras.callbacks.ModelCheckpoint(
            run_dir / "model.keras", monitor="val_loss", save_best_only=True
        ),
        tf.keras.callbacks.CSVLogger(run_dir / "history.csv"),
    ]
    started = time.monotonic()
    held_out = (inputs(validation.clips, settings.early_ms)[..., None], validation.targets)
    history = model.fit(
        inputs(train.clips, settings.early_ms)[..., None],
        train.targets,
        validation_data=held_out,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        shuffle=True,
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    seconds = time.monotonic() - started
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    plot_history(run_dir / "history.csv", run_dir / "loss.png")
    result = TrainResult(
        run_dir, best + 1, float(losses[best]), len(losses), seconds, model.count_params()
    )
    summary = {
        "settings": asdict(settings),
        "result": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(result).items()},
        "train": train.summary(),
        "validation": validation.summary(),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return result


def run_folder(runs: Path, settings: TrainSettings, without: tuple[str, ...] = ()) -> Path:
    """``RUNS/<arch>-seed<N>[-pseudo][-no-<part>...]`` (``early-<ms>ms`` for an early
    model)."""
    name = f"early-{settings.early_ms:g}ms" if settings.early_ms else settings.arch
    pseudo = "-pseudo" if settings.pseudo else ""
    return runs / f"{name}-seed{settings.seed}{pseudo}{''.join(f'-no-{k}' for k in without)}"


def mark_latest(run_dir: Path) -> None:
    """Point ``latest`` beside a full-corpus, full-second run at it: the run exported
    by default."""
    latest = run_dir.parent / "latest"
    latest.unlink(missing_ok=True)
    latest.symlink_to(run_dir.name)
