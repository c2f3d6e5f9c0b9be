"""What every source of training audio hands the corpus builder.

A source (Debian's Hydrogen kits, the General MIDI kits of Debian's SoundFonts,
freepats, a user's folder, the synthetic generator) lists ``Hit`` records and can
render each one from its ``recipe`` alone. The recipe is what the committed
corpus stores, so a fresh machine regenerates the same audio and checks it
against the stored content hash before trusting the stored label.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: What an augmented copy's ``Hit.source`` adds to its base's.
AUGMENTED = "+aug"
#: The synthetic generator's ``Hit.source``.
SYNTHETIC = "synthetic"
#: Coarse instrument classes, used for reporting and for balancing the corpus.
INSTRUMENT_CLASSES: tuple[str, ...] = (
    "kick",
    "snare",
    "tom",
    "hihat",
    "cymbal",
    "clap",
    "rim",
    "cowbell",
    "hand",
    "perc",
    "noise",
)


@dataclass(frozen=True)
class Hit:
    """One one-shot a source can render.

    ``kit`` is the unit of the train/validation/test split: velocity layers of one
    drum are near-duplicates, so whole kits go to one side.
    ``recipe`` is a JSON object (as a canonical string) from which the source
    renders exactly this audio again.
    """

    source: str
    kit: str
    instrument: str
    instrument_class: str
    recipe: str

    @staticmethod
    def make_recipe(**fields: Any) -> str:
        """Canonical JSON, so equal recipes are equal strings."""
        return json.dumps(fields, sort_keys=True, separators=(",", ":"))

    def recipe_fields(self) -> dict[str, Any]:
        return json.loads(self.recipe)

    @property
    def kind(self) -> str:
        """``real`` (recorded or rendered from a kit), ``synthetic`` or ``augmented``:
        what ablations leave out and the order a build labels in."""
        if self.source == SYNTHETIC:
            return "synthetic"
        return "augmented" if self.source.endswith(AUGMENTED) else "real"


@dataclass(frozen=True)
class Skipped:
    """Something a source left out of the corpus, and why."""

    kit: str
    item: str
    reason: str


@dataclass(frozen=True)
class Listing:
    """The hits of a source, and each thing it left out with the reason."""

    hits: list[Hit]
    left_out: list[Skipped]

    @property
    def skipped(self) -> dict[str, int]:
        """How many were left out, by reason."""
        return dict(Counter(s.reason for s in self.left_out))


class PackageMissing(RuntimeError):
    """A Debian package the corpus takes audio from is not installed; says how to
    install it."""


def package_files(package: str) -> list[str]:
    """Every path the installed Debian ``package`` ships, from dpkg."""
    try:
        result = subprocess.run(
            ["dpkg-query", "-L", package], capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise PackageMissing("dpkg-query not found: the corpus comes from Debian packages") from exc
    if result.returncode != 0:
        raise PackageMissing(f"{package} is not installed: apt-get install {package}")
    return result.stdout.splitlines()


def installed(path: Path, package: str) -> Path:
    """``path``, a sample file ``package`` ships, if it is there; else say what to install."""
    if not path.is_file():
        raise PackageMissing(f"{path} is missing: apt-get install {package}")
    return path
