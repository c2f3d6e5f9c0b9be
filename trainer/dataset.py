"""The built corpus as arrays: clips and normalised labels, per side of the split."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timbrecast.daemon.contract import LABEL_SCALE
from timbrecast.trainer import corpus
from timbrecast.trainer.split import MACHINES, Split

#: Corpus parts besides the real hits, which ``trainer train --without`` can drop.
PARTS = ("augmented", "synthetic")


@dataclass(frozen=True)
class Part:
    """One side of the split: model inputs, normalised targets, and provenance."""

    clips: np.ndarray
    targets: np.ndarray
    entries: list[corpus.Entry]

    def __len__(self) -> int:
        return len(self.entries)

    def real(self) -> Part:
        """Only the recorded and rendered hits: no augmented copies, no synthetic ones."""
        return self.without(PARTS)

    def without(self, kinds: tuple[str, ...]) -> Part:
        """Leave out ``augmented`` copies and/or ``synthetic`` hits (for ablations)."""
        return self.where(lambda e: e.hit.kind not in kinds)

    def machines(self, wanted: bool = True) -> Part:
        """Only the drum machines' clips (or, ``wanted=False``, only the others): the
        two families differ enough to be reported apart."""
        return self.where(lambda e: e.hit.kit.startswith(MACHINES) == wanted)

    def where(self, keep: Callable[[corpus.Entry], bool]) -> Part:
        chosen = [i for i, e in enumerate(self.entries) if keep(e)]
        return Part(self.clips[chosen], self.targets[chosen], [self.entries[i] for i in chosen])

    def joined(self, other: Part) -> Part:
        """This part with ``other``'s clips after its own (pseudo-labelled copies)."""
        return Part(
            np.concatenate([self.clips, other.clips]),
            np.concatenate([self.targets, other.targets]),
            self.entries + other.entries,
        )

    def summary(self) -> dict[str, int]:
        return dict(Counter(e.hit.source for e in self.entries))


def load_split(store: Path, split: Split | None = None) -> dict[str, Part]:
    """train / validation / test parts of the corpus in ``store`` (labelled clips only)."""
    split = split or Split.load()
    entries, clips = corpus.load(store)
    sides: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        if entry.labels is not None:
            sides.setdefault(split.of(entry.hit.kit), []).append(index)
    parts = {}
    for side, indices in sides.items():
        chosen = np.asarray(indices)
        points = np.array([entries[i].labels for i in indices], dtype=np.float32)
        waveforms = clips[chosen].astype(np.float32) / 32767.0
        parts[side] = Part(waveforms, LABEL_SCALE.normalise(points), [entries[i] for i in indices])
    return parts
