"""The Freesound One-Shot Percussive Sounds dataset, from its published layout on disk.

Layout (as mirdata's ``freesound_one_shot_percussive_sounds`` loader documents it):
``one_shot_percussive_sounds/<n>/<id>.wav`` beside ``analysis/<n>/<id>_analysis.json``.
Its labels are the dataset's own (the AudioCommons extractor run by its authors),
so these clips are not relabelled. A file whose analysis lacks any of the seven
descriptors is skipped and counted, never filled with zeros as the seed did.
Nothing here touches the network.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from timbrecast.daemon import audiofile
from timbrecast.daemon.audiofile import Audio
from timbrecast.daemon.contract import DESCRIPTORS
from timbrecast.trainer.sources import Hit, Listing, Skipped

SOURCE = "freesound"
AUDIO_DIR = "one_shot_percussive_sounds"
ANALYSIS_DIR = "analysis"


class FreesoundError(FileNotFoundError):
    """The data home does not hold the dataset's layout."""


def _labels(analysis: Path) -> tuple[float, ...] | str:
    """The seven labels, or the reason there are none."""
    try:
        body = json.loads(analysis.read_text())
    except FileNotFoundError:
        return "no analysis file"
    except ValueError:
        return "unreadable analysis file"
    missing = [d for d in DESCRIPTORS if d not in body]
    if missing:
        return f"analysis lacks {', '.join(missing)}"
    values = []
    for name in DESCRIPTORS:
        value = body[name]
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            return f"{name} is not a finite number"
        values.append(float(value))
    return tuple(values)


def listing(data_home: Path) -> Listing:
    """Every clip with all seven labels; the rest left out with the reason."""
    audio_root = data_home / AUDIO_DIR
    if not audio_root.is_dir():
        raise FreesoundError(f"{data_home}: no {AUDIO_DIR}/ folder (is this the dataset?)")
    hits, left_out = [], []
    for path in sorted(audio_root.glob("*/*.wav")):
        folder = path.parent.name
        analysis = data_home / ANALYSIS_DIR / folder / f"{path.stem}_analysis.json"
        labels = _labels(analysis)
        if isinstance(labels, str):
            left_out.append(Skipped(f"freesound-{folder}", path.name, labels))
            continue
        recipe = Hit.make_recipe(path=str(path.resolve()), id=path.stem, labels=labels)
        hits.append(Hit(SOURCE, f"freesound-{folder}", path.stem, "perc", recipe))
    return Listing(hits, left_out)


def labels(hit: Hit) -> tuple[float, ...]:
    return tuple(hit.recipe_fields()["labels"])


def render(hit: Hit) -> Audio:
    return audiofile.read(hit.recipe_fields()["path"])
