"""The train/validation/test split: by kit, written down, stable.

Velocity layers of one drum, and augmented copies of one hit, are
near-duplicates; a split by file would put a drum's soft layer in training and
its loud layer in the test set and call that generalisation. So whole kits are
held out, and the lists live in ``data/split.json`` in the repository: a kit not
named there (a user's folder, a new synthetic group) trains.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SPLIT_FILE = Path(__file__).parent / "data" / "split.json"
TRAIN, VALIDATION, TEST = "train", "validation", "test"
#: How a drum machine of ``../shared/data/drum-machines`` is named as a kit:
#: this, then its folder's name.
MACHINES = "drum-machines/"


@dataclass(frozen=True)
class Split:
    """Which kits are held out for validation and for test."""

    validation: frozenset[str]
    test: frozenset[str]

    def __post_init__(self) -> None:
        both = self.validation & self.test
        if both:
            raise ValueError(f"kits in both validation and test: {sorted(both)}")

    def of(self, kit: str) -> str:
        if kit in self.test:
            return TEST
        if kit in self.validation:
            return VALIDATION
        return TRAIN

    @classmethod
    def load(cls, path: Path = SPLIT_FILE) -> Split:
        body = json.loads(path.read_text())
        return cls(frozenset(body["validation"]), frozenset(body["test"]))
