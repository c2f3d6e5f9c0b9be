"""Drum one-shots of Debian's Hydrogen kits (``hydrogen-drumkits``, ``hydrogen-data``).

Every velocity layer of every instrument is a hit: the layers are separate
recordings, so they differ in timbre and not only in level. What is not a single
percussive stroke is left out and counted by reason, so a shrinking corpus shows
up in the listing instead of in a worse model:

* a layer whose file is missing or unreadable (``Millo_MultiLayered2`` names
  files the package does not ship);
* a silent file (the placeholder ``emptySample.flac``);
* audio already listed: kits reuse one file for several instruments, and
  ``GMRockKit`` (hydrogen-data) is built from the recordings of
  ``The Black Pearl 1.0`` (hydrogen-drumkits) under other names. Kits are the
  unit of the train/test split, so the same recording in two kits would leak;
  the first listed (hydrogen-drumkits, kits by directory name) keeps it;
* several strokes, by name: rolls (a buzz roll has no second attack to find),
  flams, Black Pearl's "Flink" (a grace note, then the stroke 150 ms later) and
  hi-hat swishes (open, then closed by the foot);
* several strokes, by ear: a second attack, well after the first, that rises
  far out of the decay of the first (see ``second_attack``);
* a held tone: audio that has not decayed by its end (see ``holds``).

Nothing is left out for being long: the model sees one second from the attack,
so a crash that rings for ten seconds is still one crash.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timbrecast.daemon import audiofile
from timbrecast.daemon.audiofile import Audio, AudioFileError
from timbrecast.trainer.sources import Hit, Listing, Skipped, installed, package_files

#: Listed in this order; the first to list a recording keeps it.
PACKAGES: tuple[str, ...] = ("hydrogen-drumkits", "hydrogen-data")
#: The ``Hit.source`` values of this module: the package that ships the kit.
SOURCES: frozenset[str] = frozenset(PACKAGES)
DRUMKITS = Path("/usr/share/hydrogen/data/drumkits")

#: First match wins, so "Hi-Hat Pedal" is a hi-hat, "Ride Bell" a cymbal,
#: "Snare Rimshot" a snare and "Side Stick" a rim. Hand drums include the
#: dundun family (sangban, dununba, kenkeni) that is played beside the djembe.
CLASS_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("hihat", r"hi-?\s?hat|\bhh\b|\b[co]hh\b|\bhat\b"),
    ("cymbal", r"crash|ride|splash|china|cymbal|paiste|sabian|zildjian"),
    ("kick", r"kick|\bbd\b|bass\s?drum"),
    ("snare", r"snare|\bsd\b"),
    ("tom", r"\btom"),
    ("clap", r"clap"),
    ("rim", r"\brim|stick|side"),
    ("cowbell", r"bell"),
    ("hand", r"conga|bongo|djembe|tabla|cajon|\bhand\b|sangban|dununba|kenkeni"),
)
FALLBACK_CLASS = "perc"

SILENT_PEAK = 1e-4
ENVELOPE_HOP_S = 0.01
ATTACK_DB = -20.0
#: A second attack starts at least this long after the first ...
REATTACK_GAP_S = 0.08
#: ... reaches this close to the peak ...
REATTACK_LEVEL_DB = -6.0
#: ... and rises this far above the quietest moment of the gap before it.
REATTACK_RISE_DB = 20.0
#: Instrument names of gestures made of several strokes.
SEVERAL_STROKES_NAMES = r"roll|flam|flink|swish"
#: A file still this loud over its last 30 ms has not decayed: a held tone.
HELD_LEVEL_DB = -6.0
HELD_TAIL_S = 0.03


class HydrogenError(RuntimeError):
    """A kit whose ``drumkit.xml`` cannot be read: the package's data is broken.
    (A package or file that is not there raises ``PackageMissing``, naming what to
    install; a sample libsndfile cannot read, ``AudioFileError``.)"""


@dataclass(frozen=True)
class Layer:
    """One sample file of an instrument, played for velocities in [min, max] (0..1)."""

    instrument: str
    file: str
    velocity_min: float
    velocity_max: float


@dataclass(frozen=True)
class Kit:
    package: str
    name: str
    directory: Path
    license: str
    layers: tuple[Layer, ...]


def instrument_class(name: str) -> str:
    """The coarse class of an instrument, from the keywords of its name."""
    lowered = name.lower()
    for cls, pattern in CLASS_KEYWORDS:
        if re.search(pattern, lowered):
            return cls
    return FALLBACK_CLASS


def kit_directories(packages: tuple[str, ...] = PACKAGES) -> list[tuple[str, Path]]:
    """(package, kit directory) for every kit the installed packages ship, from dpkg."""
    found = []
    for package in packages:
        files = package_files(package)
        kits = sorted({Path(f).parent for f in files if f.endswith("/drumkit.xml")})
        found.extend((package, directory) for directory in kits)
    return found


def _local(tag: str) -> str:
    """A tag without its XML namespace: newer kits declare one, older ones do not."""
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ElementTree.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def _velocity(layer: ElementTree.Element, name: str, default: float) -> float:
    text = _child_text(layer, name)
    return float(text) if text else default


def parse_kit(package: str, directory: Path) -> Kit:
    """A kit's name, licence and layers from its ``drumkit.xml``.

    Three layouts occur: a ``filename`` right under ``instrument`` (one layer for
    all velocities), ``instrument/layer`` and ``instrument/instrumentComponent/layer``.
    Instruments without a file are empty slots and yield nothing.
    """
    try:
        root = ElementTree.parse(directory / "drumkit.xml").getroot()
    except (OSError, ElementTree.ParseError) as exc:
        raise HydrogenError(f"{directory}/drumkit.xml: {exc}") from exc
    layers = []
    for instrument in root.iter():
        if _local(instrument.tag) != "instrument":
            continue
        name = _child_text(instrument, "name") or ""
        direct = _child_text(instrument, "filename")
        if direct:
            layers.append(Layer(name, direct, 0.0, 1.0))
        for layer in instrument.iter():
            file = _child_text(layer, "filename") if _local(layer.tag) == "layer" else None
            if file:
                layers.append(
                    Layer(name, file, _velocity(layer, "min", 0.0), _velocity(layer, "max", 1.0))
                )
    return Kit(
        package=package,
        name=_child_text(root, "name") or directory.name,
        directory=directory,
        license=_child_text(root, "license") or _child_text(root, "licence") or "",
        layers=tuple(layers),
    )


def _envelope_db(frames: np.ndarray, rate: int) -> np.ndarray:
    """Peak level per 10 ms, in dB relative to the file's peak."""
    level = np.abs(frames).max(axis=1)
    hop = max(1, round(rate * ENVELOPE_HOP_S))
    count = len(level) // hop
    envelope = level[: count * hop].reshape(count, hop).max(axis=1) if count else level[:1]
    return 20 * np.log10(np.maximum(envelope, 1e-12) / envelope.max())


def second_attack(envelope_db: np.ndarray) -> bool:
    """Whether a later stroke follows the first.

    Flams, claps and snaps (bursts within 80 ms) and cymbal shimmer (a few dB)
    stay one-shots; a rebound to near the peak out of a 20 dB decay does not.
    """
    hops = round(REATTACK_GAP_S / ENVELOPE_HOP_S)
    first = int(np.argmax(envelope_db >= ATTACK_DB))
    return any(
        envelope_db[i] >= REATTACK_LEVEL_DB
        and envelope_db[i] - envelope_db[i - hops : i].min() >= REATTACK_RISE_DB
        for i in range(first + hops, len(envelope_db))
    )


def holds(envelope_db: np.ndarray) -> bool:
    """Whether the audio is as loud at its end as near its peak (no decay at all)."""
    tail = envelope_db[-max(1, round(HELD_TAIL_S / ENVELOPE_HOP_S)) :]
    return len(envelope_db) > len(tail) and float(np.median(tail)) >= HELD_LEVEL_DB


def reject(instrument: str, audio: Audio, seen: set[str]) -> str | None:
    """Why a decoded sample of ``instrument`` is not a new one-shot, or None if it is
    one. ``seen`` holds the digests of the samples listed before it."""
    if float(np.abs(audio.frames).max(initial=0.0)) < SILENT_PEAK:
        return "silent"
    digest = hashlib.sha256(audio.frames.tobytes() + str(audio.sample_rate).encode()).hexdigest()
    if digest in seen:
        return "duplicate audio"
    seen.add(digest)
    if re.search(SEVERAL_STROKES_NAMES, instrument.lower()):
        return "several strokes (by name)"
    envelope = _envelope_db(audio.frames, audio.sample_rate)
    if second_attack(envelope):
        return "several strokes (second attack)"
    if holds(envelope):
        return "held tone"
    return None


def kits(packages: tuple[str, ...] = PACKAGES) -> list[Kit]:
    """Every installed kit, in listing order."""
    return [parse_kit(package, directory) for package, directory in kit_directories(packages)]


def listing(packages: tuple[str, ...] = PACKAGES) -> Listing:
    """One hit per one-shot layer file, and what was left out (decodes every file)."""
    hits: list[Hit] = []
    left_out: list[Skipped] = []
    seen: set[str] = set()
    for kit in kits(packages):
        for layer in kit.layers:
            path = kit.directory / layer.file
            try:
                reason = reject(layer.instrument, audiofile.read(path), seen)
            except AudioFileError:
                reason = "unreadable" if path.is_file() else "missing file"
            if reason is not None:
                left_out.append(Skipped(kit.name, f"{layer.instrument}: {layer.file}", reason))
                continue
            recipe = Hit.make_recipe(
                package=kit.package,
                kit=kit.name,
                directory=kit.directory.name,
                file=layer.file,
                instrument=layer.instrument,
                velocity_min=layer.velocity_min,
                velocity_max=layer.velocity_max,
            )
            cls = instrument_class(layer.instrument)
            hits.append(Hit(kit.package, kit.name, layer.instrument, cls, recipe))
    return Listing(hits, left_out)


def render(hit: Hit) -> Audio:
    """The layer's file as it is: Hydrogen's per-layer gain and pitch are not applied."""
    fields = hit.recipe_fields()
    path = DRUMKITS / fields["directory"] / fields["file"]
    return audiofile.read(installed(path, fields["package"]))
