"""The drum samples of Debian's lmms-common, sonic-pi-samples and stk: a source of
real one-shots that are neither a Hydrogen kit nor a SoundFont.

- ``lmms-common``: LMMS's drum samples (``samples/drums``, Ogg Vorbis), acoustic
  and electronic.
- ``sonic-pi-samples``: Sonic Pi's kicks, snares, drums, electronic hits,
  percussion and tabla strokes (FLAC). Its loops, ambient and vinyl sounds are
  not one-shots and are not listed.
- ``stk``: the ten drum waves of the Synthesis ToolKit's rawwaves (headerless
  16-bit big-endian mono at 22,050 Hz, as STK's ``FileRead`` reads them).

Each package is a kit of its own: a unit of the split, and none is held out, so
all of them train (``split.json`` names held-out kits only). The Hydrogen rules
(``hydrogen.reject``: silence, duplicates, several strokes, held tones) leave
out what is not a single hit, and each is counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timbrecast.daemon import audiofile
from timbrecast.daemon.audiofile import Audio, AudioFileError
from timbrecast.trainer import hydrogen
from timbrecast.trainer.sources import Hit, Listing, Skipped, installed, package_files

#: STK's rawwaves: headerless, 16-bit big-endian, mono, at this rate.
STK_RATE = 22_050


@dataclass(frozen=True)
class Pack:
    """Which files of a package are drum one-shots."""

    package: str
    #: A file is listed when its path matches this.
    files: str


PACKS: tuple[Pack, ...] = (
    Pack("lmms-common", r"/samples/drums/[^/]+\.ogg$"),
    Pack("sonic-pi-samples", r"/samples/(bd|drum|elec|perc|sn|tabla)_[^/]+\.flac$"),
    Pack(
        "stk",
        r"/rawwaves/(bassdrum|cowbell1|crashcym|hihatcym|ridecymb|snardrum|tambourn"
        r"|tomhidrm|tomlowdr|tommiddr)\.raw$",
    ),
)
#: The ``Hit.source`` values of this module: the package a sample comes from.
SOURCES: frozenset[str] = frozenset(pack.package for pack in PACKS)

#: Names the Hydrogen keywords would class wrongly or not at all, first match wins:
#: Sonic Pi's closed, open and pedal "cymbals" are hi-hats, its ``bd``/``sn`` prefixes
#: and STK's eight-letter names are kicks, snares and cymbals.
OWN_CLASSES: tuple[tuple[str, str], ...] = (
    ("hihat", r"cymbal (closed|open|pedal)|hihatcym"),
    ("kick", r"^bd\b|drum bass|bassdrum"),
    ("snare", r"^sn\b|snardrum"),
    ("cymbal", r"crashcym|ridecymb|splash"),
    ("tom", r"^tom"),
    ("perc", r"tambourn|shaker|wood|clav"),
)


def instrument_class(name: str) -> str:
    words = name.lower().replace("_", " ")
    for cls, pattern in OWN_CLASSES:
        if re.search(pattern, words):
            return cls
    return hydrogen.instrument_class(words)


def one_shots(pack: Pack) -> list[Path]:
    """The package's one-shot files, in sorted order."""
    return sorted(Path(f) for f in package_files(pack.package) if re.search(pack.files, f))


def read(path: Path) -> Audio:
    """A sample as it is: STK's headerless raw waves at their rate, anything else decoded."""
    if path.suffix != ".raw":
        return audiofile.read(path)
    try:
        samples = np.fromfile(path, dtype=">i2")
    except OSError as exc:
        raise AudioFileError(f"{path}: {exc.strerror or exc}") from exc
    return Audio((samples.astype(np.float32) / 32768.0)[:, None], STK_RATE)


def listing(packs: tuple[Pack, ...] = PACKS) -> Listing:
    """One hit per one-shot file, and what was left out (decodes every file)."""
    hits: list[Hit] = []
    left_out: list[Skipped] = []
    seen: set[str] = set()
    for pack in packs:
        for path in one_shots(pack):
            try:
                reason = hydrogen.reject(path.stem, read(path), seen)
            except AudioFileError:
                reason = "unreadable"
            if reason is not None:
                left_out.append(Skipped(pack.package, path.name, reason))
                continue
            recipe = Hit.make_recipe(package=pack.package, file=str(path))
            cls = instrument_class(path.stem)
            hits.append(Hit(pack.package, pack.package, path.stem, cls, recipe))
    return Listing(hits, left_out)


def render(hit: Hit) -> Audio:
    """The sample's file as it is."""
    fields = hit.recipe_fields()
    return read(installed(Path(fields["file"]), fields["package"]))
