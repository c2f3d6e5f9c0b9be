"""Onset detection on drum grooves with known onsets, in the rooms users play in:
ours against aubio and librosa, per condition, velocity band and kind of sound.

The daemon cuts a hit at every onset it finds, so a missed ghost note is a lost
hit and a false onset a bogus one. This measures both on grooves played with the
drums we may train on, in the conditions a live kit meets.

Kits, in turn by groove: Debian's Hydrogen kits (velocity layers picked as
Hydrogen does), the General MIDI drum presets of its SoundFonts and freepats
(``trainer.soundfonts``), the drum machines of ``../shared/data/drum-machines``
(when it is there) and kits of the synthetic generator (``trainer.synth``).

Grooves: 4 bars at tempi spread over 70-180 bpm: kicks, backbeat snare, closed
hats in 8ths (or 16ths below 110 bpm), an open hat, a crash, a tom fill, ghost
snares (velocity 20-45 of 127), on half the backbeats a flam (grace note 15-30 ms
early), and in one groove in three a snare roll (32nd notes over two beats,
velocity 20 rising to 90). Humanising (4 ms) is per grid slot, so notes of one
slot (kick + hat) start on the same sample. Samples are peak-normalised and
played at gain (velocity/127)**1.5, so velocity 20 is 24 dB below 127; the mix
peaks at -1 dBFS. A note's true onset is its sample's attack (first sample at 10 %
of the peak, ``preprocess.attack_index``): each sample is placed so that its
attack lands on the note, whatever silence leads the file.

Conditions, each drawn per groove from its range:

* clean;
* noise: white, pink or mains hum (50/60 Hz and harmonics) at -65 to -40 dBFS RMS;
* room: a decaying noise tail, RT60 0.2-1.5 s, direct-to-reverberant ratio +10
  down to -15 dB (close mic to room mic), renormalised to -1 dBFS;
* quiet: the clean mix 12 to 36 dB down;
* live: a room, then 0 to 24 dB down, then a noise floor: all at once.

Files are written (24-bit WAV, with the onsets and detections as CSV) and read
back, so every detector hears the same samples.

Scoring as madmom's onset evaluation: references within 30 ms merge into one, at
the first (a flam is one onset, heard where it starts); detections are not
merged, so firing on both strokes of a flam costs a false positive. Detections
are matched one-to-one to references within +-25 ms (mir_eval.util.match_events,
a maximum matching); counts are summed over grooves; errors are those of matches.
A merged reference's velocity is its loudest note's.

Tune on another ``--seed`` than the one you report (the reported figures use 0).
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import mir_eval
import numpy as np
import soundfile
import soxr
from scipy.signal import fftconvolve
from tqdm import tqdm

from timbrecast.daemon import audiofile, onset
from timbrecast.daemon.inputs import BLOCK_FRAMES
from timbrecast.daemon.onset import DetectorSettings, OnsetDetector
from timbrecast.daemon.preprocess import attack_index, to_mono
from timbrecast.trainer import hydrogen, soundfonts, synth
from timbrecast.trainer.sources import Hit

RATE = 44_100
WINDOW_S, COMBINE_S = 0.025, 0.030
CONDITIONS = ("clean", "noise", "room", "quiet", "live")
#: Velocity bands (of 127) that recall is reported for.
BANDS = ((20, 39), (40, 59), (60, 99), (100, 127))
KINDS = ("stroke", "ghost", "flam", "roll")
DRUM_MACHINES = Path(__file__).resolve().parents[1].parent / "shared/data/drum-machines"
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
Sound = tuple[np.ndarray, int]


@dataclass(frozen=True)
class Note:
    time_s: float
    voice: str
    velocity: int  # 1-127
    kind: str  # "stroke", "ghost", "flam" (the grace note) or "roll"


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
    """Mono at RATE, peak 1, and the index of its attack."""
    mono = to_mono(frames)
    if rate != RATE:
        mono = soxr.resample(mono, rate, RATE, quality="HQ")
    mono = mono / float(np.abs(mono).max())
    return mono, attack_index(mono)


class Kit(Protocol):
    """A drum set: for each voice (and the fill's four toms), a sound per velocity."""

    family: str

    def sound(self, voice: str, velocity: int) -> Sound: ...


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
        if hit.recipe not in self.cache:
            audio = hydrogen.render(hit)
            self.cache[hit.recipe] = _prepared(audio.frames, audio.sample_rate)
        return self.cache[hit.recipe]


class OneLayerKit:
    """A kit of one sound per voice (SoundFont presets, drum machines): velocity only
    scales it, as it does in those instruments."""

    def __init__(self, family: str, voices: dict[str, Callable[[], Sound]]) -> None:
        self.family = family
        self.voices = voices
        self.sounds: dict[str, Sound] = {}

    def sound(self, voice: str, velocity: int) -> Sound:
        if voice not in self.sounds:
            self.sounds[voice] = self.voices[voice]()
        return self.sounds[voice]


class SynthKit:
    """A kit of the synthetic generator, softer strokes darker as ``synth.groove`` has it."""

    family = "synthetic"

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
        kind, params = self.voices[voice]
        tone = 2000.0 + 16000.0 * (velocity / 127) ** 2
        return _prepared(synth.render(kind, params | {"tone_hz": tone}, RATE), RATE)


def _tom_voices(pick: Callable[[str, int], Callable[[], Sound]]) -> dict[str, Callable[[], Sound]]:
    return {f"tom{k}": pick("tom", k) for k in range(4)}


def soundfont_kits() -> list[Callable[[np.random.Generator, dict], Kit]]:
    """One kit per SoundFont drum preset (and freepats) holding kick, snare and hat."""
    by_preset: dict[tuple[str, str], dict[int, Hit]] = defaultdict(dict)
    for hit in soundfonts.listing().hits:
        fields = hit.recipe_fields()
        by_preset[hit.kit, str(fields.get("preset", ""))][fields["note"]] = hit
    makers = []
    for notes in by_preset.values():
        if not all(any(n in notes for n in GM_NOTES[v]) for v in ("kick", "snare", "hat")):
            continue

        def make(_: np.random.Generator, cache: dict, notes: dict[int, Hit] = notes) -> Kit:
            def pick(voice: str, k: int = 0) -> Callable[[], Sound]:
                wanted = [n for n in GM_NOTES[voice] if n in notes] or [
                    n for n in GM_NOTES["snare" if voice == "tom" else "hat"] if n in notes
                ]
                hit = notes[wanted[k % len(wanted)]]

                def render() -> Sound:
                    if hit.recipe not in cache:
                        audio = soundfonts.render(hit)
                        cache[hit.recipe] = _prepared(audio.frames, audio.sample_rate)
                    return cache[hit.recipe]

                return render

            voices = {v: pick(v) for v in ("kick", "snare", "hat", "open", "crash")}
            return OneLayerKit("soundfont", voices | _tom_voices(pick))

        makers.append(make)
    return makers


def machine_kits(root: Path = DRUM_MACHINES) -> list[Callable[[np.random.Generator, dict], Kit]]:
    """One kit per drum machine holding kick, snare and closed hat (a sample per voice
    drawn per groove)."""
    makers = []
    for machine in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        folders = {f.name.rsplit("-", 1)[-1]: f for f in machine.iterdir() if f.is_dir()}
        if not all(MACHINE_VOICES[v][0] in folders for v in ("kick", "snare", "hat")):
            continue

        def make(rng: np.random.Generator, cache: dict, folders: dict = folders) -> Kit:
            def pick(voice: str, k: int = 0) -> Callable[[], Sound]:
                names = [n for n in MACHINE_VOICES[voice] if n in folders] or ["sd"]
                files = sorted(folders[names[k % len(names)]].glob("*.flac"))
                path = files[int(rng.integers(len(files)))]

                def render() -> Sound:
                    if str(path) not in cache:
                        audio = audiofile.read(path)
                        cache[str(path)] = _prepared(audio.frames, audio.sample_rate)
                    return cache[str(path)]

                return render

            voices = {v: pick(v) for v in ("kick", "snare", "hat", "open", "crash")}
            return OneLayerKit("drum machine", voices | _tom_voices(pick))

        makers.append(make)
    return makers


def hydrogen_kits() -> list[Callable[[np.random.Generator, dict], Kit]]:
    by_kit: dict[str, list[Hit]] = defaultdict(list)
    for hit in hydrogen.listing().hits:
        by_kit[hit.kit].append(hit)
    usable = sorted(
        k
        for k, hits in by_kit.items()
        if {"kick", "snare", "hihat"} <= {h.instrument_class for h in hits}
        and k not in EXCLUDED_KITS
    )
    return [lambda rng, cache, hits=by_kit[k]: HydrogenKit(hits, rng, cache) for k in usable]


def all_kits() -> dict[str, list[Callable[[np.random.Generator, dict], Kit]]]:
    """Kit makers by family; a groove takes the families in turn, then a kit in turn."""
    return {
        "hydrogen": hydrogen_kits(),
        "soundfont": soundfont_kits(),
        "drum machine": machine_kits(),
        "synthetic": [lambda rng, _cache: SynthKit(rng)],
    }


def render(notes: list[Note], kit: Kit) -> tuple[np.ndarray, list[float]]:
    """The mix at -1 dBFS peak and each note's true onset (its attack sample)."""
    mix = np.zeros(round((notes[-1].time_s + 2.0) * RATE))
    truth = []
    for note in notes:
        audio, attack = kit.sound(note.voice, note.velocity)
        start = round(note.time_s * RATE)
        part = audio[: mix.size - (start - attack)]  # the 0.5 s lead-in covers the attack
        mix[start - attack : start - attack + part.size] += (note.velocity / 127) ** 1.5 * part
        truth.append(start / RATE)
    return mix * 10 ** (-1 / 20) / np.abs(mix).max(), truth


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


def room(clean: np.ndarray, rt60_s: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    """The direct sound plus a decaying noise tail from 1 ms: reverberant energy
    ``drr_db`` below the direct sound's; renormalised to -1 dBFS."""
    t = np.arange(round(1.2 * rt60_s * RATE)) / RATE
    tail = rng.normal(size=t.size) * np.exp(-6.91 * t / rt60_s) * (t >= 0.001)
    tail *= 10 ** (-drr_db / 20) / np.sqrt(np.sum(tail**2))
    wet = clean + fftconvolve(clean, tail)[: clean.size]
    return wet * 10 ** (-1 / 20) / np.abs(wet).max()


def condition(name: str, clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One listening condition, its parameters drawn from the groove's generator, and
    a line saying which."""
    floor_db, colour = rng.uniform(-65, -40), str(rng.choice(["white", "pink", "hum"]))
    rt60, drr = rng.uniform(0.2, 1.5), rng.uniform(-15, 10)
    if name == "noise":
        return clean + noise(clean.size, colour, rng) * 10 ** (floor_db / 20), (
            f"{colour} {floor_db:.0f} dBFS"
        )
    if name == "room":
        return room(clean, rt60, drr, rng), f"RT60 {rt60:.2f} s, DRR {drr:+.0f} dB"
    if name == "quiet":
        level = rng.uniform(-36, -12)
        return clean * 10 ** (level / 20), f"{level:.0f} dB"
    if name == "live":
        level = rng.uniform(-24, 0)
        wet = room(clean, rt60, drr, rng) * 10 ** (level / 20)
        return wet + noise(clean.size, colour, rng) * 10 ** (floor_db / 20), (
            f"RT60 {rt60:.2f} s, DRR {drr:+.0f} dB, {level:.0f} dB, {colour} {floor_db:.0f} dBFS"
        )
    return clean, ""


def ours(settings: DetectorSettings) -> Callable[[np.ndarray], list[float]]:
    """The daemon's detector, fed its block size (``inputs.BLOCK_FRAMES``, 128)."""

    def detect(audio: np.ndarray) -> list[float]:
        detector = OnsetDetector(RATE, settings)
        found: list[float] = []
        for start in range(0, audio.size, BLOCK_FRAMES):
            block = audio[start : start + BLOCK_FRAMES]
            found += [e.sample / RATE for e in detector.process(block)]
        return found

    return detect


def tuned(assignments: list[str]) -> tuple[DetectorSettings, str]:
    """Our detector's settings with ``NAME=VALUE`` overrides, and a line saying which.

    Lower-case names are ``DetectorSettings`` fields (what a user sets); upper-case
    ones are ``daemon/onset.py``'s module constants, for sweeping the detector
    itself (tune on another ``--seed`` than the one you report).
    """
    fields, constants = {}, {}
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        if name in DetectorSettings.__dataclass_fields__:
            fields[name] = float(value)
        elif name.isupper() and isinstance(getattr(onset, name, None), (int, float)):
            constants[name] = type(getattr(onset, name))(float(value))
        else:
            raise SystemExit(f"onsets.py: --set {assignment}: no such setting or constant")
    for name, value in constants.items():
        setattr(onset, name, value)
    changed = ", ".join(f"{k}={v}" for k, v in {**fields, **constants}.items())
    return DetectorSettings(**fields), f"ours: {changed or 'defaults'}, 128-frame blocks."


def aubio_onsets(method: str) -> Callable[[np.ndarray], list[float]]:
    """aubio's online detector: window 1024, hop 256, its defaults otherwise
    (threshold, minioi 50 ms, silence -70 dB); get_last_s() removes its delay."""

    def detect(audio: np.ndarray) -> list[float]:
        import aubio

        onset, hop = aubio.onset(method, 1024, 256, RATE), 256
        padded = np.concatenate([audio, np.zeros(-audio.size % hop)]).astype(np.float32)
        blocks = (padded[i : i + hop] for i in range(0, padded.size, hop))
        return [onset.get_last_s() for block in blocks if onset(block)[0]]

    return detect


def librosa_onsets(backtrack: bool) -> Callable[[np.ndarray], list[float]]:
    """librosa's offline detector (hop 512), onsets backtracked to the energy minimum or not."""

    def detect(audio: np.ndarray) -> list[float]:
        import librosa

        return librosa.onset.onset_detect(
            y=audio, sr=RATE, units="time", backtrack=backtrack
        ).tolist()

    return detect


OTHERS: dict[str, Callable[[np.ndarray], list[float]]] = {
    "aubio hfc": aubio_onsets("hfc"),
    "aubio specflux": aubio_onsets("specflux"),
    "librosa bt": librosa_onsets(True),
    "librosa": librosa_onsets(False),
}


def merged(notes: list[Note], truth: list[float]) -> tuple[np.ndarray, list[str], list[int]]:
    """References within COMBINE_S merged at the first, each with its kind (a "flam"
    if it holds a grace note, else the loudest note's kind) and its loudest velocity."""
    groups: list[list[tuple[float, Note]]] = []
    for t, note in sorted(zip(truth, notes, strict=True), key=lambda pair: pair[0]):
        if groups and t - groups[-1][0][0] <= COMBINE_S:
            groups[-1].append((t, note))
        else:
            groups.append([(t, note)])
    times = np.array([group[0][0] for group in groups])
    loudest = [max(group, key=lambda pair: pair[1].velocity)[1] for group in groups]
    kinds = [
        "flam" if any(n.kind == "flam" for _, n in group) else top.kind
        for group, top in zip(groups, loudest, strict=True)
    ]
    return times, kinds, [n.velocity for n in loudest]


def band(velocity: int) -> str:
    low, high = next(b for b in BANDS if b[0] <= velocity <= b[1])
    return f"{low}-{high}"


class Tally:
    """Summed counts and matched errors of one detector in one condition."""

    def __init__(self) -> None:
        self.tp = self.found = self.refs = 0
        self.errors: list[float] = []
        #: recall counts [found, all] by kind and by velocity band
        self.by: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def add(self, found: list[float], refs: np.ndarray, kinds: list[str], velocities: list[int]):
        pairs = mir_eval.util.match_events(refs, np.asarray(found), WINDOW_S)
        self.tp += len(pairs)
        self.found += len(found)
        self.refs += refs.size
        self.errors += [abs(found[j] - refs[i]) * 1000 for i, j in pairs]
        matched = {i for i, _ in pairs}
        for i, (kind, velocity) in enumerate(zip(kinds, velocities, strict=True)):
            for key in (kind, band(velocity)):
                self.by[key][0] += i in matched
                self.by[key][1] += 1

    def f(self) -> str:
        return self.cells()[0]

    def recall(self, key: str) -> str:
        hit, n = self.by[key]
        return f"{hit / n:.3f}" if n else "-"

    def cells(self) -> list[str]:
        p, r = self.tp / max(1, self.found), self.tp / max(1, self.refs)
        ms = np.array(self.errors or [np.nan])
        shares = [f"{v:.3f}" for v in (2 * p * r / max(1e-9, p + r), p, r)]
        return [*shares, f"{np.median(ms):.1f}", f"{np.percentile(ms, 95):.1f}"]


def table(tallies: dict[tuple[str, str], Tally], names: list[str], header: str) -> str:
    """F per condition and per kit family side by side, every metric per condition,
    then recall per velocity band and per kind of reference."""
    rows = [*CONDITIONS, "overall"]
    families = sorted({key for _, key in tallies if key.startswith("family ")})
    head = ["| {} | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    out = [header, "", "F-measure", "", head[0].format("condition"), head[1]]
    out += [f"| {c} | " + " | ".join(tallies[d, c].f() for d in names) + " |" for c in rows]
    out += ["", "F-measure by kit family, all conditions", "", head[0].format("kits"), head[1]]
    out += [
        f"| {c.removeprefix('family ')} ({tallies[names[0], c].refs}) | "
        + " | ".join(tallies[d, c].f() for d in names)
        + " |"
        for c in families
    ]
    out += ["", "| condition | detector | F | P | R | median err ms | p95 err ms |"]
    out += ["|---|---|---|---|---|---|---|"]
    out += [
        f"| {c} | {d} | " + " | ".join(tallies[d, c].cells()) + " |" for c in rows for d in names
    ]
    bands = [f"{low}-{high}" for low, high in BANDS]
    for title, keys in (("velocity band (of 127)", bands), ("kind of reference", KINDS)):
        out += ["", f"Recall by {title}, all conditions", "", head[0].format(title), head[1]]
        for key in keys:
            n = tallies[names[0], "overall"].by[key][1]
            recalls = " | ".join(tallies[d, "overall"].recall(key) for d in names)
            out.append(f"| {key} ({n}) | {recalls} |")
    for name in names[:1]:
        out += ["", f"Recall of {name} by velocity band and condition", ""]
        out += ["| condition | " + " | ".join(bands) + " |", "|---" * (len(bands) + 1) + "|"]
        out += [
            f"| {c} | " + " | ".join(tallies[name, c].recall(b) for b in bands) + " |" for c in rows
        ]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python bench/onsets.py --grooves 120 --out onsets.md\n"
        "  python bench/onsets.py --seed 1 --grooves 60 --only ours --set MASK_RATIO=0.4 "
        "--set min_interval=0.03",
    )
    parser.add_argument("--grooves", type=int, default=120, help="grooves to render (default 120)")
    parser.add_argument("--seed", type=int, default=0, help="the whole benchmark follows from it")
    parser.add_argument("--out", type=Path, help="also write the Markdown tables to this file")
    parser.add_argument(
        "--wavs", type=Path, default=Path("/tmp/onsetbench"), help="where the audio and CSVs go"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=["ours", *OTHERS],
        help="run only this detector (repeatable; default: all)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one of our settings (threshold, floor_db, min_interval) or a "
        "constant of daemon/onset.py (MASK_RATIO, ...); repeatable",
    )
    args = parser.parse_args()
    args.wavs.mkdir(parents=True, exist_ok=True)
    settings, setup = tuned(args.set)
    detectors = {"ours": ours(settings), **OTHERS}
    detectors = {k: v for k, v in detectors.items() if not args.only or k in args.only}

    kits = {family: makers for family, makers in all_kits().items() if makers}
    families = list(kits)
    cache: dict[str, Sound] = {}
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    index_rows = [("groove", "family", "kit", "bpm", "references", *CONDITIONS)]
    for index in tqdm(range(args.grooves), desc="grooves", unit="groove"):
        rng = np.random.default_rng([args.seed, index])
        bpm = 70 + 110 * (index + rng.uniform()) / args.grooves
        family = families[index % len(families)]
        makers = kits[family]
        which = (index // len(families)) % len(makers)
        kit = makers[which](rng, cache)
        notes = pattern(rng, bpm)
        clean, truth = render(notes, kit)
        refs, kinds, velocities = merged(notes, truth)
        stem = args.wavs / f"g{index:03d}"
        rows = [
            (f"{t:.6f}", n.voice, str(n.velocity), n.kind)
            for t, n in zip(truth, notes, strict=True)
        ]
        write_csv(Path(f"{stem}.onsets.csv"), [("onset_s", "voice", "velocity", "kind"), *rows])
        detections = [("condition", "detector", "onset_s")]
        described = []
        for name in CONDITIONS:
            audio, what = condition(name, clean, rng)
            described.append(what)
            path = f"{stem}-{name}.wav"
            soundfile.write(path, audio, RATE, subtype="PCM_24")
            audio = soundfile.read(path, dtype="float32")[0]
            for detector, detect in detectors.items():
                found = detect(audio)
                detections += [(name, detector, f"{t:.6f}") for t in found]
                for key in (name, "overall", f"family {family}"):
                    tallies[detector, key].add(found, refs, kinds, velocities)
        write_csv(Path(f"{stem}.detections.csv"), detections)
        index_rows.append((stem.name, family, f"{which}", f"{bpm:.1f}", str(refs.size), *described))
    write_csv(args.wavs / "index.csv", index_rows)
    counts = ", ".join(f"{len(makers)} {family}" for family, makers in kits.items())
    header = (
        f"{args.grooves} grooves (seed {args.seed}) from kits in turn: {counts}; "
        f"{tallies[next(iter(detectors)), 'overall'].refs} reference onsets (all conditions); "
        f"+-{WINDOW_S * 1e3:.0f} ms; references within {COMBINE_S * 1e3:.0f} ms merged; "
        f"each condition's parameters per groove in {args.wavs / 'index.csv'}.\n"
        f"{setup} aubio: window 1024, hop 256, default threshold/minioi/silence. "
        "librosa: onset_detect, hop 512, bt = backtrack."
    )
    text = table(tallies, list(detectors), header)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


def write_csv(path: Path, rows: list[tuple[str, ...]]) -> None:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)


if __name__ == "__main__":
    main()
