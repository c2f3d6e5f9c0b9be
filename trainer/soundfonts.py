"""General MIDI drum kits of Debian's SoundFonts and freepats, rendered note by note.

Each kit is a Debian package (``timgm6mb-soundfont``, ``csound-soundfont``,
``opl3-soundfont``, ``freepats``): the SoundFonts share recordings between
their drum presets and with one another, so only a whole package is a safe unit
for the train/test split. A hit is one GM percussion note (35..81) of one drum
preset, rendered by ``fluidsynth`` (SoundFonts) or ``timidity`` (freepats' GUS
patches) from a one-note MIDI file, reverb and chorus off, at velocity 127.

One velocity only: in all four packages velocity scales the output and nothing
else (the waveforms at velocity 40 and 127 correlate at 1.0000 after
normalisation), and preprocessing peak-normalises every clip, so other
velocities would be the same model input with the same label.

Left out, and counted by reason:

* notes a preset maps no sample to (found by reading the SoundFont, which is what
  a silent render would find, without rendering);
* a sound already listed: the same recordings played at the same pitch. The GS
  variants (Room, Power, Jazz, ...) reuse most of the Standard kit, and
  ``sf_GMbank.sf2`` (csound) reuses 384 of the 520 recordings of
  ``TimGM6mb.sf2`` (some resampled to 44.1 kHz, so their data differ); the
  first listed keeps the sound, and across kits a copy that only adds or lacks
  a layer is a duplicate too (see ``duplicate``);
* the sound-effects preset of ``sf_GMbank.sf2`` (bank 128, program 56).

Rendering is deterministic (checked: every listed hit renders bit-identical
twice): fluidsynth writes float samples, so nothing is dithered, timidity writes
24-bit samples with noise shaping off, neither synthesis has random parts, and
each renderer runs in a fresh temporary directory that is also its ``HOME``.
timidity renders all freepats notes in one process, each from a reset player:
every note comes out as it does alone (checked against the committed corpus).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from timbrecast.daemon import audiofile
from timbrecast.daemon.audiofile import Audio, AudioFileError
from timbrecast.trainer.sources import Hit, Listing, Skipped

#: GM percussion key map (General MIDI 1, notes 35..81): name and coarse class.
GM_PERCUSSION: dict[int, tuple[str, str]] = {
    35: ("Acoustic Bass Drum", "kick"),
    36: ("Bass Drum 1", "kick"),
    37: ("Side Stick", "rim"),
    38: ("Acoustic Snare", "snare"),
    39: ("Hand Clap", "clap"),
    40: ("Electric Snare", "snare"),
    41: ("Low Floor Tom", "tom"),
    42: ("Closed Hi-Hat", "hihat"),
    43: ("High Floor Tom", "tom"),
    44: ("Pedal Hi-Hat", "hihat"),
    45: ("Low Tom", "tom"),
    46: ("Open Hi-Hat", "hihat"),
    47: ("Low-Mid Tom", "tom"),
    48: ("Hi-Mid Tom", "tom"),
    49: ("Crash Cymbal 1", "cymbal"),
    50: ("High Tom", "tom"),
    51: ("Ride Cymbal 1", "cymbal"),
    52: ("Chinese Cymbal", "cymbal"),
    53: ("Ride Bell", "cymbal"),
    54: ("Tambourine", "perc"),
    55: ("Splash Cymbal", "cymbal"),
    56: ("Cowbell", "cowbell"),
    57: ("Crash Cymbal 2", "cymbal"),
    58: ("Vibraslap", "perc"),
    59: ("Ride Cymbal 2", "cymbal"),
    60: ("Hi Bongo", "hand"),
    61: ("Low Bongo", "hand"),
    62: ("Mute Hi Conga", "hand"),
    63: ("Open Hi Conga", "hand"),
    64: ("Low Conga", "hand"),
    65: ("High Timbale", "perc"),
    66: ("Low Timbale", "perc"),
    67: ("High Agogo", "perc"),
    68: ("Low Agogo", "perc"),
    69: ("Cabasa", "perc"),
    70: ("Maracas", "perc"),
    71: ("Short Whistle", "perc"),
    72: ("Long Whistle", "perc"),
    73: ("Short Guiro", "perc"),
    74: ("Long Guiro", "perc"),
    75: ("Claves", "perc"),
    76: ("Hi Wood Block", "perc"),
    77: ("Low Wood Block", "perc"),
    78: ("Mute Cuica", "perc"),
    79: ("Open Cuica", "perc"),
    80: ("Mute Triangle", "perc"),
    81: ("Open Triangle", "perc"),
}

DRUM_BANK = 128
#: Drum presets that hold sound effects, not drums: (package, program).
SOUND_EFFECT_PRESETS: frozenset[tuple[str, int]] = frozenset({("csound-soundfont", 56)})

VELOCITY = 127
SAMPLE_RATE = 44100
#: fluidsynth's master gain: the loudest listed note of the three SoundFonts peaks near 0.9.
FLUIDSYNTH_GAIN = 0.6
#: A drummer's short note; each preset's release shapes what follows.
HOLD_MS = 100
MAX_SECONDS = 2.0
#: Trailing audio below this level (relative to the peak) is cut.
TRIM_DB = -60.0
SILENT_PEAK = 1e-5
TICKS_PER_QUARTER = 1000
#: One quarter note per second, so a tick is a millisecond.
TEMPO_US_PER_QUARTER = 1_000_000

FREEPATS_PACKAGE = "freepats"
FREEPATS_CONFIG = Path("/etc/timidity/freepats.cfg")


class SoundFontError(RuntimeError):
    """A kit that cannot be listed or a hit that cannot be rendered."""


@dataclass(frozen=True)
class SoundFont:
    package: str
    kit: str
    path: Path


SOUNDFONTS: tuple[SoundFont, ...] = (
    SoundFont("timgm6mb-soundfont", "timgm6mb-GM", Path("/usr/share/sounds/sf2/TimGM6mb.sf2")),
    SoundFont("csound-soundfont", "csound-GM", Path("/usr/share/sounds/sf2/sf_GMbank.sf2")),
    SoundFont("opl3-soundfont", "opl3-GM", Path("/usr/share/sounds/sf2/OPL-3_FM_128M.sf2")),
)
FREEPATS_KIT = "freepats-GM"
#: The ``Hit.source`` values of this module: the package that ships the kit.
SOURCES: frozenset[str] = frozenset({font.package for font in SOUNDFONTS} | {FREEPATS_PACKAGE})


#: The voices a note starts, as (sample name, cents from the sample's recorded pitch).
Sound = frozenset[tuple[str, int]]


@dataclass(frozen=True)
class Preset:
    """A drum preset and the sound each note it maps plays."""

    program: int
    name: str
    voices: dict[int, Sound]


def midi_file(note: int, velocity: int, program: int) -> bytes:
    """A standard MIDI file (format 0) playing one note on the drum channel (10).

    The track runs past ``MAX_SECONDS`` so the renderers keep going for as long
    as a hit is kept.
    """

    def event(delta_ms: int, payload: bytes) -> bytes:
        quantity = [delta_ms & 0x7F]
        delta_ms >>= 7
        while delta_ms:
            quantity.append(0x80 | (delta_ms & 0x7F))
            delta_ms >>= 7
        return bytes(reversed(quantity)) + payload

    track = b"".join(
        (
            event(0, b"\xff\x51\x03" + TEMPO_US_PER_QUARTER.to_bytes(3, "big")),
            event(0, bytes([0xC9, program])),
            event(0, bytes([0x99, note, velocity])),
            event(HOLD_MS, bytes([0x89, note, 0])),
            event(round(MAX_SECONDS * 1000) + 100 - HOLD_MS, b"\xff\x2f\x00"),
        )
    )
    header = struct.pack(">4sIHHH", b"MThd", 6, 0, 1, TICKS_PER_QUARTER)
    return header + struct.pack(">4sI", b"MTrk", len(track)) + track


def _signed(amount: int) -> int:
    return amount - 0x10000 if amount >= 0x8000 else amount


def _in_range(zone: dict[int, int], default: dict[int, int], operator: int, value: int) -> bool:
    amount = zone.get(operator, default.get(operator, 0x7F00))
    return (amount & 0xFF) <= value <= (amount >> 8)


def _zones(
    bags: list[tuple[int, int]], generators: list[tuple[int, int]], first: int, last: int, end: int
) -> tuple[dict[int, int], list[dict[int, int]]]:
    """A preset's or instrument's (global zone, local zones); ``end`` is the
    generator a local zone ends with (instrument, or sample ID)."""
    zones = [dict(generators[bags[z][0] : bags[z + 1][0]]) for z in range(first, last)]
    glob = zones.pop(0) if zones and end not in zones[0] else {}
    return glob, [zone for zone in zones if end in zone]


def _hydra(path: Path) -> dict[bytes, bytes]:
    """The SoundFont's preset data sub-chunks (the sample data is not read)."""
    hydra: dict[bytes, bytes] = {}
    with path.open("rb") as handle:
        riff, size, form = struct.unpack("<4sI4s", handle.read(12))
        if riff != b"RIFF" or form != b"sfbk":
            raise SoundFontError(f"{path}: not a SoundFont 2 file")
        position = 12
        while position < 8 + size:
            handle.seek(position)
            chunk, length = struct.unpack("<4sI", handle.read(8))
            if chunk == b"LIST" and handle.read(4) == b"pdta":
                body = handle.read(length - 4)
                offset = 0
                while offset < len(body):
                    name, sub = struct.unpack_from("<4sI", body, offset)
                    hydra[name] = body[offset + 8 : offset + 8 + sub]
                    offset += 8 + sub + (sub & 1)
            position += 8 + length + (length & 1)
    if not {b"phdr", b"pbag", b"pgen", b"inst", b"ibag", b"igen", b"shdr"} <= set(hydra):
        raise SoundFontError(f"{path}: incomplete SoundFont (no preset data)")
    return hydra


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def drum_presets(path: Path) -> list[Preset]:
    """The presets of bank 128, with the voices each GM percussion note starts at ``VELOCITY``.

    A voice is named by what makes its sound: the sample (by name: names are
    unique within each of these SoundFonts and shared between two of them only
    for the same recording) and the pitch it is played at, in cents from the
    recorded pitch. Level, pan, envelope and filter settings are left out, so
    one recording at one pitch is one sound wherever a kit reuses it.
    """
    hydra = _hydra(path)

    def records(name: bytes, layout: str) -> list[tuple]:
        return list(struct.iter_unpack(layout, hydra[name]))

    headers = records(b"phdr", "<20sHHHIII")
    pbag, pgen = records(b"pbag", "<HH"), records(b"pgen", "<HH")
    inst, ibag, igen = records(b"inst", "<20sH"), records(b"ibag", "<HH"), records(b"igen", "<HH")
    samples = records(b"shdr", "<20sIIIIIBbHH")
    presets = []
    for index, (preset_name, program, bank, bag, *_) in enumerate(headers[:-1]):
        if bank != DRUM_BANK:
            continue
        pglobal, pzones = _zones(pbag, pgen, bag, headers[index + 1][3], 41)
        voices: dict[int, Sound] = {}
        for note in GM_PERCUSSION:
            found = set()
            for pzone in pzones:
                if not (
                    _in_range(pzone, pglobal, 43, note) and _in_range(pzone, pglobal, 44, VELOCITY)
                ):
                    continue
                first, last = inst[pzone[41]][1], inst[pzone[41] + 1][1]
                iglobal, izones = _zones(ibag, igen, first, last, 53)
                for izone in izones:
                    if not (
                        _in_range(izone, iglobal, 43, note)
                        and _in_range(izone, iglobal, 44, VELOCITY)
                    ):
                        continue
                    sample_name, *_, recorded, correction, _, kind = samples[izone[53]]
                    if kind & 0x8000:
                        continue
                    gens, pgens = {**iglobal, **izone}, {**pglobal, **pzone}
                    root = _signed(gens.get(58, 0xFFFF))
                    root = root if root >= 0 else (recorded if recorded <= 127 else 60)
                    cents = (
                        (_signed(gens.get(56, 100)) + _signed(pgens.get(56, 0))) * (note - root)
                        + 100 * (_signed(gens.get(51, 0)) + _signed(pgens.get(51, 0)))
                        + _signed(gens.get(52, 0))
                        + _signed(pgens.get(52, 0))
                        + correction
                    )
                    found.add((_name(sample_name), cents))
            if found:
                voices[note] = frozenset(found)
        presets.append(Preset(program, _name(preset_name), voices))
    return sorted(presets, key=lambda preset: preset.program)


def freepats_drums(config: Path = FREEPATS_CONFIG) -> dict[int, Path]:
    """The patch file of each GM percussion note in freepats' drum set 0."""
    if not config.is_file():
        raise SoundFontError(f"{config} is missing: apt-get install {FREEPATS_PACKAGE}")
    base = config.parent
    patches: dict[int, Path] = {}
    in_drums = False
    for line in config.read_text(encoding="latin-1").splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "dir" and len(words) > 1:
            base = Path(words[1])
        elif words[0] in ("bank", "drumset"):
            in_drums = words == ["drumset", "0"]
        elif in_drums and words[0].isdigit() and int(words[0]) in GM_PERCUSSION:
            patches[int(words[0])] = base / words[1]
    return patches


def _hit(package: str, kit: str, note: int, **recipe: str | int | float) -> Hit:
    name, cls = GM_PERCUSSION[note]
    fields = {"package": package, "note": note, "velocity": VELOCITY, **recipe}
    return Hit(package, kit, name, cls, Hit.make_recipe(**fields))


def duplicate(voices: Sound, kit: str, listed: list[tuple[str, Sound]]) -> bool:
    """Whether a listed sound is the same one.

    Within a kit, the same voices. Across kits, also one that only adds or lacks
    a layer (csound's copies of TimGM6mb's Electronic toms lack its click layer):
    a near copy in two kits would leak across the train/test split.
    """
    return any(
        voices == other or (kit != other_kit and (voices < other or voices > other))
        for other_kit, other in listed
    )


def listing() -> Listing:
    """One hit per distinct sound of every drum preset, and what was left out."""
    hits: list[Hit] = []
    left_out: list[Skipped] = []
    listed: list[tuple[str, Sound]] = []
    for font in SOUNDFONTS:
        if not font.path.is_file():
            raise SoundFontError(f"{font.path} is missing: apt-get install {font.package}")
        for preset in drum_presets(font.path):
            sound_effects = (font.package, preset.program) in SOUND_EFFECT_PRESETS
            for note in GM_PERCUSSION:
                voices = preset.voices.get(note)
                if voices is None:
                    reason = "no sample for the note"
                elif sound_effects:
                    reason = "sound-effects preset"
                elif duplicate(voices, font.kit, listed):
                    reason = "duplicate sound"
                else:
                    listed.append((font.kit, voices))
                    recipe = {"program": preset.program, "preset": preset.name}
                    recipe.update(gain=FLUIDSYNTH_GAIN, sample_rate=SAMPLE_RATE)
                    hits.append(_hit(font.package, font.kit, note, **recipe))
                    continue
                item = f"{preset.name} ({preset.program}) note {note}"
                left_out.append(Skipped(font.kit, item, reason))
    patches = freepats_drums()
    for note in GM_PERCUSSION:
        if note in patches and patches[note].is_file():
            hits.append(
                _hit(FREEPATS_PACKAGE, FREEPATS_KIT, note, program=0, sample_rate=SAMPLE_RATE)
            )
        else:
            left_out.append(Skipped(FREEPATS_KIT, f"note {note}", "no sample for the note"))
    return Listing(hits, left_out)


def _timidity(fields: dict[str, Any], midis: list[str]) -> list[str]:
    """timidity's command line: each of ``midis`` to a .wav of the same stem.

    timidity reads its default configuration first; freepats.cfg, read after it,
    maps every note 35..81 of drum set 0, so it decides them all. Where that default
    configuration names a file that is not installed (Debian's sources
    ``fluidr3_gm.cfg``, of the package ``fluid-soundfont-gm``), timidity sleeps a
    second before it plays: hence one process for many notes (``_freepats_notes``).
    """
    if not FREEPATS_CONFIG.is_file():
        raise SoundFontError(f"{FREEPATS_CONFIG} is missing: apt-get install freepats")
    return [
        "timidity", "-c", str(FREEPATS_CONFIG), "--quiet=2", "-Ow", "--output-24bit",
        "-s", str(fields["sample_rate"]), "-EFreverb=0", "-EFchorus=0", "-EFdelay=0",
        "-EFns=0", *midis,
    ]  # fmt: skip


def _command(fields: dict[str, Any], midi: Path, out: Path) -> list[str]:
    """fluidsynth's command line for a SoundFont recipe."""
    rate = str(fields["sample_rate"])
    fonts = {font.package: font for font in SOUNDFONTS}
    font = fonts.get(fields["package"])
    if font is None:
        raise SoundFontError(f"unknown package in recipe: {fields['package']}")
    if not font.path.is_file():
        raise SoundFontError(f"{font.path} is missing: apt-get install {font.package}")
    return [
        "fluidsynth", "-n", "-i", "-q", "-F", str(out), "-r", rate, "-g", str(fields["gain"]),
        "-O", "float", "-T", "wav",
        "-o", "synth.reverb.active=0", "-o", "synth.chorus.active=0",
        str(font.path), str(midi),
    ]  # fmt: skip


def trim(frames: np.ndarray, rate: int) -> np.ndarray:
    """Frames without the trailing near-silence, at most ``MAX_SECONDS`` long."""
    level = np.abs(frames).max(axis=1)
    loud = np.flatnonzero(level >= level.max() * 10 ** (TRIM_DB / 20))
    end = int(loud[-1]) + 1 if len(loud) else 0
    return frames[: min(end, round(MAX_SECONDS * rate))]


def _run(command: list[str], folder: str, recipe: str) -> None:
    """Run a renderer in ``folder``, which is also its ``HOME`` (so no
    ~/.timidity.cfg or similar changes the sound)."""
    if shutil.which(command[0]) is None:
        raise SoundFontError(f"{command[0]} is not installed: apt-get install {command[0]}")
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=folder, env={**os.environ, "HOME": folder}
    )
    if result.returncode != 0:
        raise SoundFontError(f"{command[0]} failed on {recipe}: {result.stderr.strip()}")


def _read(out: Path, renderer: str, recipe: str) -> Audio:
    """The renderer's output file; a missing or unreadable one is the recipe's error."""
    try:
        return audiofile.read(out)
    except AudioFileError as exc:
        raise SoundFontError(f"{renderer} wrote no audio for {recipe}: {exc}") from exc


@lru_cache(maxsize=4)
def _freepats_notes(velocity: int, program: int, sample_rate: int) -> dict[int, Audio | str]:
    """Every freepats drum note, rendered by one timidity process: the 47 notes take
    1.1 s where a process each took 1 s a note (see ``_timidity``). Each file
    starts from a reset player, so a note comes out bit-identical to its render
    alone. Kept per process for the next notes: ``render`` hands out copies."""
    fields = {"velocity": velocity, "program": program, "sample_rate": sample_rate}
    recipe = Hit.make_recipe(package=FREEPATS_PACKAGE, **fields)
    notes = sorted(freepats_drums())
    with tempfile.TemporaryDirectory(prefix="timbrecast-render-") as folder:
        for note in notes:
            (Path(folder) / f"{note}.mid").write_bytes(midi_file(note, velocity, program))
        _run(_timidity(fields, [f"{note}.mid" for note in notes]), folder, recipe)
        rendered: dict[int, Audio | str] = {}
        for note in notes:
            try:
                rendered[note] = _read(Path(folder) / f"{note}.wav", "timidity", recipe)
            except SoundFontError as exc:
                rendered[note] = str(exc)
    return rendered


def render(hit: Hit) -> Audio:
    """The hit's note, rendered from its recipe alone (bit-identical on every call)."""
    fields = hit.recipe_fields()
    if fields["package"] == FREEPATS_PACKAGE:
        notes = _freepats_notes(fields["velocity"], fields["program"], fields["sample_rate"])
        audio = notes.get(fields["note"], f"{hit.recipe}: freepats has no sample for the note")
        if isinstance(audio, str):
            raise SoundFontError(audio)
        audio = Audio(frames=audio.frames.copy(), sample_rate=audio.sample_rate)
    else:
        with tempfile.TemporaryDirectory(prefix="timbrecast-render-") as folder:
            midi, out = Path(folder) / "hit.mid", Path(folder) / "hit.wav"
            midi.write_bytes(midi_file(fields["note"], fields["velocity"], fields["program"]))
            _run(_command(fields, midi, out), folder, hit.recipe)
            audio = _read(out, "fluidsynth", hit.recipe)
    frames = trim(audio.frames, audio.sample_rate)
    if len(frames) == 0 or float(np.abs(frames).max()) < SILENT_PEAK:
        raise SoundFontError(f"{hit.recipe} renders silent")
    return Audio(frames=frames, sample_rate=audio.sample_rate)
