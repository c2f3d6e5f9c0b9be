"""What a corpus holds: counts by source, kit and class, and label distributions
beside the Freesound one-shot dataset's (the seed's training data)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from timbrecast.daemon.contract import DESCRIPTORS, NORMALISATION
from timbrecast.trainer.corpus import Entry
from timbrecast.trainer.split import Split

#: Mean and standard deviation of the AudioCommons labels over the Freesound
#: One-Shot Percussive Sounds dataset (shared/reference/seed-models.md).
FREESOUND_MEAN_STD: dict[str, tuple[float, float]] = {
    "hardness": (64.33, 11.11),
    "depth": (44.77, 17.50),
    "brightness": (61.38, 15.31),
    "roughness": (54.81, 13.78),
    "warmth": (39.00, 13.23),
    "sharpness": (52.42, 14.70),
    "boominess": (27.91, 14.59),
}


def counts(entries: list[Entry], split: Split) -> str:
    """A plain-text report of the corpus."""
    labelled = [e for e in entries if e.labels is not None]
    pending = sum(e.pending for e in entries)
    lines = [
        f"{len(entries)} clips, {len(labelled)} labelled, {pending} awaiting labels "
        "(a build stopped by --stop-after: run it again), "
        f"{len(entries) - len(labelled) - pending} left out by the teacher or the renderer",
        "",
    ]
    for title, key in (
        ("per source", lambda e: e.hit.source),
        ("per split", lambda e: split.of(e.hit.kit)),
        ("per instrument class", lambda e: e.hit.instrument_class),
        (
            "per kit (real kits)",
            lambda e: e.hit.kit if not e.hit.kit.startswith("synthetic") else None,
        ),
    ):
        tally = Counter(key(e) for e in labelled)
        tally.pop(None, None)
        lines.append(title + ":")
        lines += [f"  {name:<32} {count:6d}" for name, count in sorted(tally.items())]
        lines.append("")
    return "\n".join(lines)


def label_table(entries: list[Entry]) -> str:
    """Markdown: our label statistics next to Freesound's."""
    values = np.array([e.labels for e in entries if e.labels is not None])
    lines = [
        "| descriptor | ours min | ours max | ours mean | ours std | Freesound min | "
        "Freesound max | Freesound mean | Freesound std |",
        "|---" * 9 + "|",
    ]
    for k, name in enumerate(DESCRIPTORS):
        column = values[:, k]
        mean, std = FREESOUND_MEAN_STD[name]
        span = NORMALISATION[name]
        lines.append(
            f"| {name} | {column.min():.2f} | {column.max():.2f} | {column.mean():.2f} | "
            f"{column.std():.2f} | {span.low:.2f} | {span.high:.2f} | {mean:.2f} | {std:.2f} |"
        )
    return "\n".join(lines)


def plot_distributions(entries: list[Entry], out: Path) -> None:
    """Histograms of each descriptor with Freesound's range and mean +- std marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = np.array([e.labels for e in entries if e.labels is not None])
    fig, axes = plt.subplots(2, 4, figsize=(15, 7))
    for k, name in enumerate(DESCRIPTORS):
        ax = axes.flat[k]
        ax.hist(values[:, k], bins=50, color="tab:blue", alpha=0.8, label="this corpus")
        mean, std = FREESOUND_MEAN_STD[name]
        span = NORMALISATION[name]
        ax.axvspan(
            mean - std, mean + std, color="tab:orange", alpha=0.25, label="Freesound mean +- std"
        )
        ax.axvline(mean, color="tab:orange")
        for edge in (span.low, span.high):
            ax.axvline(edge, color="grey", linestyle="--", linewidth=1)
        ax.set_title(name)
        ax.set_xlabel("teacher label (0-100)")
    axes.flat[0].legend(fontsize=8)
    axes.flat[7].axis("off")
    fig.suptitle(f"Label distributions of {len(values)} clips; dashed: Freesound min and max")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
