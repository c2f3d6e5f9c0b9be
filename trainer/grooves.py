"""Drum grooves with exact onsets, played on the kits we may train on, in the rooms
users play in: what the onset benchmark scores detectors on, and what a learned
detector will train on (on other kits).

A groove is 4 bars of a backbeat (``pattern``) played on one kit (``Kit``:
Hydrogen kits with their velocity layers, SoundFont presets, drum machines,
synthetic kits); each note's true onset is its sample's attack. ``condition`` puts
the mix in one of the listening conditions (noise, room, level, all at once)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import soxr
from scipy.signal import fftconvolve

from timbrecast.daemon import audiofile
from timbrecast.daemon.audiofile import Audio
from timbrecast.daemon.preprocess import attack_index, to_mono
from timbrecast.trainer import hydrogen, soundfonts, synth
from timbrecast.trainer.sources import Hit
from timbrecast.trainer.split import MACHINES, Split

#: Grooves are rendered at this rate (kits are resampled to it).
RATE = 44_100
#: Every sample fades out over its last 20 ms (``_prepared``).
FADE_S = 0.02
#: The listening conditions (``condition``).
CONDITIONS = ("clean", "noise", "room", "quiet", "live")
#: What a note is: a stroke, a ghost note, a flam's grace note or a note of a roll.
KINDS = ("stroke", "ghost", "flam", "roll")
#: voice -> (instrument class, preferred instrument names) in a Hydrogen kit.
VOICES = {
    "kick": ("kick", r""),
    "snare": ("snare", r"^(?!.*rim)"),
    "hat": ("hihat", r"clos|\bcl\b"),
    "open": ("hihat", r"\bop(en|ened)?\b"),
    "crash": ("cymbal", r"crash|splash|^cymbal$"),
    "tom": ("tom", r""),
}
#: Not one stick stroke of the voice: a foot, a choked or a half-open hat.
EXCLUDED = r"pedal|choke|semi|hat free|bell"
#: Its samples are slices of analog drum recordings that go on after the stroke
#: (its crash and "bass drum 2" re-attack where every detector agrees), so a groove
#: made of them has onsets nobody annotated.
EXCLUDED_KITS = {"rumpf_kit_z01_gm"}
#: voice -> General MIDI notes that play it, preferred first.
GM_NOTES = {
    "kick": (36, 35),
    "snare": (38, 40),
    "hat": (42,),
    "open": (46,),
    "crash": (49, 57, 55),
    "tom": (50, 48, 47, 45, 43, 41),
}
#: voice -> the drum machines' instrument folder suffixes (TidalCycles' names).
MACHINE_VOICES = {
    "kick": ("bd",),
    "snare": ("sd",),
    "hat": ("hh",),
    "open": ("oh", "hh"),
    "crash": ("cr", "oh", "hh"),
    "tom": ("ht", "mt", "lt"),
}
#: A voice's audio at RATE, peak 1, and the index of its attack.
Sound = tuple[np.ndarray, int]
#: The synthetic generator's kits: every groove draws a new one from its own seed.
SYNTHETIC = "synthetic"


@dataclass(frozen=True)
class Note:
    """One note of a groove: when (s), which voice, how hard (1-127), what kind."""

    time_s: float
    voice: str
    velocity: int
    kind: str


def pattern(rng: np.random.Generator, bpm: float, bars: int = 4) -> list[Note]:
    """A backbeat groove, humanised per grid slot (notes of one slot land together)."""
    step, notes = 60.0 / bpm / 4, []
    sixteenths = bpm < 110 and rng.random() < 0.5
    roll_bar = int(rng.integers(bars - 1)) if rng.random() < 1 / 3 else None

    def velocity(low: int, high: int) -> int:
        return int(rng.integers(low, high + 1))

    for bar in range(bars):
        fill = bar == bars - 1
        slots: dict[int, list[tuple[str, int, str]]] = defaultdict(list)
        if bar == 0:
            slots[0].append(("crash", velocity(100, 120), "stroke"))
        extra = rng.choice([6, 7, 10, 11, 14], size=int(rng.integers(0, 3)), replace=False)
        for s in sorted({0, 8, *extra.tolist()}):
            slots[s].append(("kick", velocity(85, 127), "stroke"))
        for s in (4, 12):
            slots[s].append(("snare", velocity(100, 127), "stroke"))
        rolling = range(8, 16) if bar == roll_bar else range(0)
        for s in range(1, 12 if fill else 16, 2):
            if s not in rolling and rng.random() < 0.3:
                slots[s].append(("snare", velocity(20, 45), "ghost"))
        for s in range(0, 12 if fill else 16, 1 if sixteenths else 2):
            voice = "open" if bar == 1 and s == 14 else "hat"
            slots[s].append((voice, 100 if s % 4 == 0 else velocity(40, 70), "stroke"))
        if fill:
            for s in range(12, 16):
                slots[s].append((f"tom{s - 12}", velocity(90, 120), "stroke"))
        for s, hits in slots.items():
            time_s = 0.5 + (bar * 16 + s) * step + rng.normal(0.0, 0.004)
            notes += [Note(time_s, voice, v, kind) for voice, v, kind in hits]
            if s in (4, 12) and rng.random() < 0.5:
                grace = time_s - rng.uniform(0.015, 0.030)
                notes.append(Note(grace, "snare", velocity(40, 65), "flam"))
        if bar == roll_bar:  # 32nds over beats 3-4, crescendo
            for k in range(16):
                time_s = 0.5 + (bar * 16 + 8 + k / 2) * step + rng.normal(0.0, 0.002)
                if k % 8:  # the backbeat stroke on beat 4 is already there
                    notes.append(Note(time_s, "snare", 20 + round(70 * k / 15), "roll"))
    return sorted(notes, key=lambda n: n.time_s)


def _prepared(frames: np.ndarray, rate: int) -> Sound:
    """Mono at RATE, peak 1, faded out over its last ``FADE_S``, and the index of
    its attack. Rendered SoundFont notes stop at a fixed length, some still
    sounding: cut dead, they click, an onset no one played."""
    mono = to_mono(frames)
    if rate != RATE:
        mono = soxr.resample(mono, rate, RATE, quality="HQ")
    mono = mono / float(np.abs(mono).max())
    fade = min(mono.size // 4, round(FADE_S * RATE))
    mono[mono.size - fade :] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, fade))
    return mono, attack_index(mono)


class Kit(Protocol):
    """A drum set: for each voice (and the fill's four toms), a sound per velocity."""

    family: str

    def sound(self, voice: str, velocity: int) -> Sound: ...


@dataclass(frozen=True)
class KitMaker:
    """A kit by name (the unit of ``trainer.split``), made per groove: ``make(rng,
    cache)`` draws the groove's instruments with ``rng`` and shares samples in ``cache``."""

    name: str
    make: Callable[[np.random.Generator, dict], Kit]


class HydrogenKit:
    """One Hydrogen kit's instrument for each voice, chosen once per groove, its
    velocity layer as Hydrogen picks it; a missing voice falls back (open hat ->
    closed, crash -> open hat, toms -> snare)."""

    family = "hydrogen"

    def __init__(self, hits: list[Hit], rng: np.random.Generator, cache: dict) -> None:
        self.cache = cache
        self.layers: dict[str, list[Hit]] = {}
        for voice, (cls, preferred) in VOICES.items():
            pool = [h for h in hits if h.instrument_class == cls]
            usable = sorted(
                {h.instrument for h in pool if not re.search(EXCLUDED, h.instrument.lower())}
            )
            names = [n for n in usable if re.search(preferred, n.lower())] or usable
            if voice == "tom":
                for k in range(4):
                    chosen = [h for h in pool if names and h.instrument == names[k % len(names)]]
                    self.layers[f"tom{k}"] = chosen or self.layers["snare"]
            elif names:
                chosen = names[int(rng.integers(len(names)))]
                self.layers[voice] = [h for h in pool if h.instrument == chosen]
            else:
                self.layers[voice] = self.layers["open" if voice == "crash" else "hat"]

    def sound(self, voice: str, velocity: int) -> Sound:
        """The layer holding ``velocity``, as Hydrogen picks it."""
        layers = self.layers[voice]
        hit = layers[-1]
        for layer in layers:
            fields = layer.recipe_fields()
            if fields["velocity_min"] <= velocity / 127 <= fields["velocity_max"]:
                hit = layer
                break
        return _load(self.cache, hit.recipe, lambda: hydrogen.render(hit))


class OneLayerKit:
    """A kit of one sound per voice (SoundFont presets, drum machines): velocity only
    scales it, as it does in those instruments."""

    def __init__(self, family: str, sounds: dict[str, Sound]) -> None:
        self.family = family
        self.sounds = sounds

    def sound(self, voice: str, velocity: int) -> Sound:
        return self.sounds[voice]


class SynthKit:
    """A kit of the synthetic generator, softer strokes darker as ``synth.groove`` has it."""

    family = SYNTHETIC

    def __init__(self, rng: np.random.Generator) -> None:
        kit = synth.groove_kit(rng)
        toms = ("tom_high", "tom_mid", "tom_floor", "tom_floor")
        self.voices = {
            "kick": kit["kick"],
            "snare": kit["snare"],
            "hat": kit["hihat_closed"],
            "open": kit["hihat_open"],
            "crash": kit["cymbal"],
            **{f"tom{k}": kit[name] for k, name in enumerate(toms)},
        }

    def sound(self, voice: str, velocity: int) -> Sound:
        return _prepared(synth.stroke(self.voices[voice], velocity / 127, RATE), RATE)


def _load(cache: dict[str, Sound], key: str, read: Callable[[], Audio]) -> Sound:
    """A sample read and prepared once per run: kits share samples across grooves."""
    if key not in cache:
        audio = read()
        cache[key] = _prepared(audio.frames, audio.sample_rate)
    return cache[key]


def _voices(pick: Callable[[str, int], Sound]) -> dict[str, Sound]:
    """Every voice of a groove (and the fill's four toms) from ``pick(voice, k)``."""
    sounds = {voice: pick(voice, 0) for voice in ("kick", "snare", "hat", "open", "crash")}
    return sounds | {f"tom{k}": pick("tom", k) for k in range(4)}


def soundfont_kits() -> list[KitMaker]:
    """One kit per SoundFont drum preset (and freepats) holding kick, snare and hat."""
    by_preset: dict[tuple[str, str], dict[int, Hit]] = defaultdict(dict)
    for hit in soundfonts.listing().hits:
        fields = hit.recipe_fields()
        by_preset[hit.kit, str(fields.get("preset", ""))][fields["note"]] = hit
    makers = []
    for (kit, _), notes in by_preset.items():
        if not all(any(n in notes for n in GM_NOTES[v]) for v in ("kick", "snare", "hat")):
            continue

        def make(_: np.random.Generator, cache: dict, notes: dict[int, Hit] = notes) -> Kit:
            def pick(voice: str, k: int) -> Sound:
                wanted = [n for n in GM_NOTES[voice] if n in notes] or [
                    n for n in GM_NOTES["snare" if voice == "tom" else "hat"] if n in notes
                ]
                hit = notes[wanted[k % len(wanted)]]
                return _load(cache, hit.recipe, lambda: soundfonts.render(hit))

            return OneLayerKit("soundfont", _voices(pick))

        makers.append(KitMaker(kit, make))
    return makers


def machine_kits(root: Path) -> list[KitMaker]:
    """One kit per drum machine holding kick, snare and closed hat (a sample per voice
    drawn per groove)."""
    makers = []
    for machine in sorted(p for p in root.glob("*") if p.is_dir()):
        folders = {f.name.rsplit("-", 1)[-1]: f for f in machine.iterdir() if f.is_dir()}
        if not all(MACHINE_VOICES[v][0] in folders for v in ("kick", "snare", "hat")):
            continue

        def make(rng: np.random.Generator, cache: dict, folders: dict = folders) -> Kit:
            def pick(voice: str, k: int) -> Sound:
                names = [n for n in MACHINE_VOICES[voice] if n in folders] or ["sd"]
                files = sorted(folders[names[k % len(names)]].glob("*.flac"))
                path = files[int(rng.integers(len(files)))]
                return _load(cache, str(path), lambda: audiofile.read(path))

            return OneLayerKit("drum machine", _voices(pick))

        makers.append(KitMaker(MACHINES + machine.name, make))
    return makers


def hydrogen_kits() -> list[KitMaker]:
    by_kit: dict[str, list[Hit]] = defaultdict(list)
    for hit in hydrogen.listing().hits:
        by_kit[hit.kit].append(hit)
    usable = sorted(
        k
        for k, hits in by_kit.items()
        if {"kick", "snare", "hihat"} <= {h.instrument_class for h in hits}
        and k not in EXCLUDED_KITS
    )
    return [
        KitMaker(k, lambda rng, cache, hits=by_kit[k]: HydrogenKit(hits, rng, cache))
        for k in usable
    ]


def all_kits(drum_machines: Path, part: str | None = None) -> dict[str, list[KitMaker]]:
    """Kit makers by family (the drum machines of ``drum_machines``, the collection
    ``../shared/data/drum-machines``, when it is there): a groove takes the families
    in turn, then a kit in turn. ``part`` (``train``, ``validation``, ``test``) keeps
    the kits ``trainer.split`` puts there; synthetic kits are in every part, since
    each is drawn anew from the groove's seed."""
    split = Split.load()
    families = {
        "hydrogen": hydrogen_kits(),
        "soundfont": soundfont_kits(),
        "drum machine": machine_kits(drum_machines),
        SYNTHETIC: [KitMaker(SYNTHETIC, lambda rng, _cache: SynthKit(rng))],
    }
    return {
        family: [m for m in makers if part in (None, split.of(m.name)) or m.name == SYNTHETIC]
        for family, makers in families.items()
    }


def in_turn(kits: dict[str, list[KitMaker]], index: int) -> tuple[str, int, KitMaker]:
    """Groove ``index``'s kit: the families in turn, then a family's kits in turn
    (its family, its index in the family, its maker). Families without kits are skipped."""
    families = [family for family, makers in kits.items() if makers]
    family = families[index % len(families)]
    which = (index // len(families)) % len(kits[family])
    return family, which, kits[family][which]


@dataclass(frozen=True)
class Part:
    """One note's sound as it went into a mix: from sample ``start``, ``gain`` times
    ``sound`` (the kit's samples, not a copy), the gain the mix's scale included."""

    start: int
    gain: float
    sound: np.ndarray


@dataclass(frozen=True)
class Mix:
    """A rendered groove: the mix at -1 dBFS peak, each note's true onset (its attack
    sample) and its ``Part``, so one note can be followed on its own."""

    audio: np.ndarray
    truth: list[float]
    parts: list[Part]


def mixed(notes: list[Note], kit: Kit) -> Mix:
    """The groove played on ``kit``."""
    mix = np.zeros(round((notes[-1].time_s + 2.0) * RATE))
    truth, parts = [], []
    for note in notes:
        audio, attack = kit.sound(note.voice, note.velocity)
        start = round(note.time_s * RATE)
        part = audio[: mix.size - (start - attack)]  # the 0.5 s lead-in covers the attack
        gain = (note.velocity / 127) ** 1.5
        mix[start - attack : start - attack + part.size] += gain * part
        truth.append(start / RATE)
        parts.append(Part(start - attack, gain, part))
    peak = np.abs(mix).max()
    scale = 10 ** (-1 / 20) / peak
    return Mix(
        mix * 10 ** (-1 / 20) / peak, truth, [Part(p.start, p.gain * scale, p.sound) for p in parts]
    )


def render(notes: list[Note], kit: Kit) -> tuple[np.ndarray, list[float]]:
    """The mix at -1 dBFS peak and each note's true onset (its attack sample)."""
    groove = mixed(notes, kit)
    return groove.audio, groove.truth


def noise(size: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS white, pink or mains-hum noise."""
    if colour == "hum":
        t = np.arange(size) / RATE
        mains = rng.choice([50.0, 60.0])
        out = sum(np.sin(2 * np.pi * mains * h * t + rng.uniform(0, 6.3)) / h for h in range(1, 8))
        out = out + 0.05 * rng.normal(size=size)
    else:
        out = rng.normal(size=size)
        if colour == "pink":
            spectrum = np.fft.rfft(out)
            spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(size, 1 / RATE), 20.0))
            out = np.fft.irfft(spectrum, size)
    return out / np.sqrt(np.mean(out**2))


@dataclass(frozen=True)
class Heard:
    """A groove as a listening condition delivers it (``audio``, and ``what`` was
    drawn), and the linear path it took there (a room's ``tail``, then ``gain``; the
    noise added after), so a part of the groove can be sent down it alone."""

    audio: np.ndarray
    what: str
    gain: float = 1.0
    tail: np.ndarray | None = None

    def of(self, part: np.ndarray) -> np.ndarray:
        """What the condition makes of ``part`` (any stretch that adds into the clean
        groove and holds everything of it that rings on), without the noise."""
        return (part if self.tail is None else reverberant(part, self.tail)) * self.gain


def room_tail(rt60_s: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    """A room's response after the direct sound: a decaying noise tail from 1 ms,
    its energy ``drr_db`` below the direct sound's."""
    t = np.arange(round(1.2 * rt60_s * RATE)) / RATE
    tail = rng.normal(size=t.size) * np.exp(-6.91 * t / rt60_s) * (t >= 0.001)
    return tail * (10 ** (-drr_db / 20) / np.sqrt(np.sum(tail**2)))


def reverberant(dry: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """The direct sound plus the room's tail, as long as the direct sound (so only
    as much of the tail as that counts: a note's 40 ms convolve in microseconds)."""
    return dry + fftconvolve(dry, tail[: dry.size])[: dry.size]


def room(clean: np.ndarray, tail: np.ndarray) -> tuple[np.ndarray, float]:
    """The direct sound plus the room's tail, renormalised to -1 dBFS, and the gain
    that renormalised it."""
    wet = reverberant(clean, tail)
    peak = np.abs(wet).max()
    return wet * 10 ** (-1 / 20) / peak, 10 ** (-1 / 20) / peak


def conditioned(name: str, clean: np.ndarray, rng: np.random.Generator) -> Heard:
    """One listening condition, its parameters drawn from the groove's generator."""
    floor_db, colour = rng.uniform(-65, -40), str(rng.choice(["white", "pink", "hum"]))
    rt60, drr = rng.uniform(0.2, 1.5), rng.uniform(-15, 10)
    if name == "noise":
        audio = clean + noise(clean.size, colour, rng) * 10 ** (floor_db / 20)
        return Heard(audio, f"{colour} {floor_db:.0f} dBFS")
    if name == "room":
        tail = room_tail(rt60, drr, rng)
        audio, gain = room(clean, tail)
        return Heard(audio, f"RT60 {rt60:.2f} s, DRR {drr:+.0f} dB", gain, tail)
    if name == "quiet":
        level = rng.uniform(-36, -12)
        return Heard(clean * 10 ** (level / 20), f"{level:.0f} dB", 10 ** (level / 20))
    if name == "live":
        level = rng.uniform(-24, 0)
        tail = room_tail(rt60, drr, rng)
        audio, gain = room(clean, tail)
        wet = audio * 10 ** (level / 20)
        audio = wet + noise(clean.size, colour, rng) * 10 ** (floor_db / 20)
        what = f"RT60 {rt60:.2f} s, DRR {drr:+.0f} dB, {level:.0f} dB, {colour} {floor_db:.0f} dBFS"
        return Heard(audio, what, gain * 10 ** (level / 20), tail)
    return Heard(clean, "")


def condition(name: str, clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One listening condition, its parameters drawn from the groove's generator, and
    a line saying which."""
    heard = conditioned(name, clean, rng)
    return heard.audio, heard.what
