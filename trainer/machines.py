"""The drum-machine collection as a corpus source: real recorded electronic hits.

``../shared/data/drum-machines`` holds one-shots of 72 drum machines, laid out as
``<Machine>/<machine>-<instrument>/<name>.flac`` (TidalCycles' instrument names).
They are the kind of hit the seed's Freesound set was mostly made of, and no
Debian kit covers them. Whole machines are the split unit (``split.MACHINES``):
one machine's tuning and level variants are near-duplicates.

Recipes name a file relative to the collection, so the committed corpus does not
depend on where a machine keeps it. The collection's location is set once per
build (``use``) and read from the environment, which the spawned processes that
render hits inherit. The files may not be copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

from timbrecast.daemon import audiofile
from timbrecast.daemon.audiofile import Audio, AudioFileError
from timbrecast.trainer import hydrogen
from timbrecast.trainer.sources import AUGMENTED, Hit, Listing, Skipped
from timbrecast.trainer.split import MACHINES

SOURCE = "drum-machines"
ROOT_VARIABLE = "TIMBRECAST_DRUM_MACHINES"
#: TidalCycles' instrument folder suffix -> the corpus' instrument class.
CLASSES = {
    "bd": "kick",
    "sd": "snare",
    "hh": "hihat",
    "oh": "hihat",
    "cr": "cymbal",
    "rd": "cymbal",
    "lt": "tom",
    "mt": "tom",
    "ht": "tom",
    "cp": "clap",
    "rim": "rim",
    "rs": "rim",
    "cb": "cowbell",
    "sh": "perc",
    "tb": "perc",
    "perc": "perc",
    "misc": "perc",
    "fx": "noise",
}


class MachinesError(RuntimeError):
    """A drum-machine hit that cannot be rendered."""


def use(root: Path) -> None:
    """Render this build's drum-machine hits from ``root`` (and so will its workers)."""
    os.environ[ROOT_VARIABLE] = str(root.resolve())


def root() -> Path:
    named = os.environ.get(ROOT_VARIABLE)
    if not named:
        raise MachinesError("no drum-machine collection named (--drum-machines)")
    return Path(named)


def available() -> bool:
    """Whether the collection ``use`` named is there."""
    return bool(os.environ.get(ROOT_VARIABLE)) and root().is_dir()


def needs(hit: Hit) -> bool:
    """Whether rendering ``hit`` reads the collection (its augmented copies do too)."""
    return hit.source.removesuffix(AUGMENTED) == SOURCE


def listing(collection: Path) -> Listing:
    """One hit per one-shot file of ``collection`` (none if it is not there), and
    what was left out: the rules of the Hydrogen kits (silence, duplicates, several
    strokes, held tones) and instrument folders of unknown name."""
    if not collection.is_dir():
        missing = f"no drum-machine collection at {collection} (--drum-machines)"
        return Listing([], [Skipped(SOURCE, str(collection), missing)])
    hits: list[Hit] = []
    left_out: list[Skipped] = []
    seen: set[str] = set()
    for path in sorted(collection.glob("*/*/*.flac")):
        machine, folder = path.parent.parent.name, path.parent.name
        kit = MACHINES + machine
        suffix = folder.rsplit("-", 1)[-1]
        relative = str(path.relative_to(collection))
        if suffix not in CLASSES:
            left_out.append(Skipped(kit, relative, "unknown instrument"))
            continue
        try:
            reason = hydrogen.reject(path.stem, audiofile.read(path), seen)
        except AudioFileError:
            reason = "unreadable"
        if reason is not None:
            left_out.append(Skipped(kit, relative, reason))
            continue
        hits.append(Hit(SOURCE, kit, suffix, CLASSES[suffix], Hit.make_recipe(file=relative)))
    return Listing(hits, left_out)


def render(hit: Hit) -> Audio:
    """The file as it is."""
    path = root() / hit.recipe_fields()["file"]
    try:
        return audiofile.read(path)
    except AudioFileError as exc:
        raise MachinesError(f"{exc} (the collection: --drum-machines)") from exc
