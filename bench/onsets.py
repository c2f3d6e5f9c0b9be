"""Onset detection on drum grooves with known onsets: ours against aubio and librosa.

The daemon cuts a hit at every onset it finds, so a missed ghost note is a lost
hit and a false onset a bogus one. This measures both on real drum recordings
(Debian's Hydrogen kits), in the conditions a live kit meets.

Grooves: 4 bars from one kit (kits with kick, snare and hi-hat in turn; the
instruments and velocity layers by seed) at tempi spread over 70-180 bpm: kicks,
backbeat snare, closed hats in 8ths (or 16ths below 110 bpm), an open hat, a
crash, a tom fill, ghost snares (velocity 0.1-0.25) and, on half the backbeats, a
flam (grace note 15-30 ms early). Humanising (4 ms) is per grid slot, so notes of
one slot (kick + hat) start on the same sample. Samples are peak-normalised and
played at gain velocity**1.5 (ghosts -30..-18 dB, as ``trainer.synth.groove``);
the mix peaks at -1 dBFS. A note's true onset is its sample's attack (first
sample at 10 % of the peak, ``preprocess.attack_index``): each sample is placed
so that its attack lands on the note, whatever silence leads the file.

Conditions: clean; + pink noise at -50 dBFS RMS (ghost note peaks 15-20 dB above it);
room: direct sound + Gaussian noise tail decaying at RT60 0.5 s from 1 ms, tail
energy 6 dB below the direct sound, renormalised to -1 dBFS; the clean mix 24 dB
down. Files are written (24-bit WAV, with the onsets and detections as CSV) and
read back, so every detector hears the same samples.

Scoring as madmom's onset evaluation: references within 30 ms merge into one, at
the first (a flam is one onset, heard where it starts); detections are not
merged, so firing on both strokes of a flam costs a false positive. Detections
are matched one-to-one to references within +-25 ms (mir_eval.util.match_events,
a maximum matching); counts are summed over grooves; errors are those of matches.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mir_eval
import numpy as np
import soundfile
import soxr
from scipy.signal import fftconvolve
from tqdm import tqdm

from timbrecast.daemon import onset
from timbrecast.daemon.inputs import BLOCK_FRAMES
from timbrecast.daemon.onset import DetectorSettings, OnsetDetector
from timbrecast.daemon.preprocess import attack_index, to_mono
from timbrecast.trainer import hydrogen
from timbrecast.trainer.sources import Hit

RATE = 44_100
WINDOW_S, COMBINE_S = 0.025, 0.030
NOISE_DBFS, RT60_S, TAIL_DB, QUIET_DB = -50.0, 0.5, -6.0, -24.0
CONDITIONS = ("clean", "noise", "room", "-24 dB")
#: voice -> (instrument class, preferred instrument names).
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


@dataclass(frozen=True)
class Note:
    time_s: float
    voice: str
    velocity: float
    kind: str  # "ghost", "flam" (the grace note) or "stroke"


def pattern(rng: np.random.Generator, bpm: float, bars: int = 4) -> list[Note]:
    """A backbeat groove, humanised per grid slot: ``trainer.synth.pattern`` jitters
    each note on its own (kick and hat a few ms apart) and its flams are 25-40 ms."""
    step, notes = 60.0 / bpm / 4, []
    sixteenths = bpm < 110 and rng.random() < 0.5
    for bar in range(bars):
        fill = bar == bars - 1
        slots: dict[int, list[tuple[str, float, str]]] = defaultdict(list)
        if bar == 0:
            slots[0].append(("crash", 0.9, "stroke"))
        extra = rng.choice([6, 7, 10, 11, 14], size=int(rng.integers(0, 3)), replace=False)
        for s in sorted({0, 8, *extra.tolist()}):
            slots[s].append(("kick", rng.uniform(0.7, 1.0), "stroke"))
        for s in (4, 12):
            slots[s].append(("snare", rng.uniform(0.85, 1.0), "stroke"))
        for s in range(1, 12 if fill else 16, 2):
            if rng.random() < 0.3:
                slots[s].append(("snare", rng.uniform(0.1, 0.25), "ghost"))
        for s in range(0, 12 if fill else 16, 1 if sixteenths else 2):
            voice = "open" if bar == 1 and s == 14 else "hat"
            slots[s].append((voice, 0.8 if s % 4 == 0 else rng.uniform(0.3, 0.55), "stroke"))
        if fill:
            for s in range(12, 16):
                slots[s].append((f"tom{s - 12}", rng.uniform(0.7, 0.95), "stroke"))
        for s, hits in slots.items():
            time_s = 0.5 + (bar * 16 + s) * step + rng.normal(0.0, 0.004)
            notes += [Note(time_s, voice, float(v), kind) for voice, v, kind in hits]
            if s in (4, 12) and rng.random() < 0.5:
                grace = time_s - rng.uniform(0.015, 0.030)
                notes.append(Note(grace, "snare", float(rng.uniform(0.3, 0.5)), "flam"))
    return sorted(notes, key=lambda n: n.time_s)


class Kit:
    """One Hydrogen kit's instrument for each voice, chosen once per groove; a
    missing voice falls back (open hat -> closed, crash -> open hat, toms -> snare)."""

    def __init__(self, hits: list[Hit], rng: np.random.Generator) -> None:
        self.layers: dict[str, list[Hit]] = {}
        for voice, (cls, preferred) in VOICES.items():
            pool = [h for h in hits if h.instrument_class == cls]
            usable = sorted(
                {h.instrument for h in pool if not re.search(EXCLUDED, h.instrument.lower())}
            )
            names = [n for n in usable if re.search(preferred, n.lower())] or usable
            if voice == "tom":  # four strokes of the fill on up to four toms
                for k in range(4):
                    chosen = [h for h in pool if names and h.instrument == names[k % len(names)]]
                    self.layers[f"tom{k}"] = chosen or self.layers["snare"]
            elif names:
                chosen = names[int(rng.integers(len(names)))]
                self.layers[voice] = [h for h in pool if h.instrument == chosen]
            else:
                self.layers[voice] = self.layers["open" if voice == "crash" else "hat"]

    def hit(self, voice: str, velocity: float) -> Hit:
        """The velocity layer holding ``velocity``, as Hydrogen picks it."""
        layers = self.layers[voice]
        for hit in layers:
            fields = hit.recipe_fields()
            if fields["velocity_min"] <= velocity <= fields["velocity_max"]:
                return hit
        return layers[-1]


def sample(hit: Hit, cache: dict[str, tuple[np.ndarray, int]]) -> tuple[np.ndarray, int]:
    """A layer's mono audio at RATE, peak 1, and the index of its attack."""
    if hit.recipe not in cache:
        audio = hydrogen.render(hit)
        mono = to_mono(audio.frames)
        if audio.sample_rate != RATE:
            mono = soxr.resample(mono, audio.sample_rate, RATE, quality="HQ")
        mono = mono / float(np.abs(mono).max())
        cache[hit.recipe] = (mono, attack_index(mono))
    return cache[hit.recipe]


def render(notes: list[Note], kit: Kit, cache: dict) -> tuple[np.ndarray, list[float]]:
    """The mix at -1 dBFS peak and each note's true onset (its attack sample)."""
    mix = np.zeros(round((notes[-1].time_s + 2.0) * RATE))
    truth = []
    for note in notes:
        audio, attack = sample(kit.hit(note.voice, note.velocity), cache)
        onset = round(note.time_s * RATE)
        part = audio[: mix.size - (onset - attack)]  # the 0.5 s lead-in covers the attack
        mix[onset - attack : onset - attack + part.size] += note.velocity**1.5 * part
        truth.append(onset / RATE)
    return mix * 10 ** (-1 / 20) / np.abs(mix).max(), truth


def condition(name: str, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One of the four listening conditions (see the module docstring)."""
    if name == "noise":
        spectrum = np.fft.rfft(rng.normal(size=clean.size))
        spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(clean.size, 1 / RATE), 20.0))
        pink = np.fft.irfft(spectrum, clean.size)
        return clean + pink * 10 ** (NOISE_DBFS / 20) / np.sqrt(np.mean(pink**2))
    if name == "room":
        t = np.arange(round(1.2 * RT60_S * RATE)) / RATE
        tail = rng.normal(size=t.size) * np.exp(-6.91 * t / RT60_S) * (t >= 0.001)
        tail *= 10 ** (TAIL_DB / 20) / np.sqrt(np.sum(tail**2))
        wet = clean + fftconvolve(clean, tail)[: clean.size]
        return wet * 10 ** (-1 / 20) / np.abs(wet).max()
    return clean * 10 ** (QUIET_DB / 20) if name == "-24 dB" else clean


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


def merged(truth: list[float], kinds: list[str]) -> tuple[np.ndarray, list[str]]:
    """References within COMBINE_S merged at the first; a merged one is a "flam" if
    it holds a grace note, a "ghost" if it holds only ghost notes."""
    times: list[float] = []
    labels: list[set[str]] = []
    for t, kind in sorted(zip(truth, kinds, strict=True)):
        if times and t - times[-1] <= COMBINE_S:
            labels[-1].add(kind)
        else:
            times.append(t)
            labels.append({kind})
    names = ["flam" if "flam" in k else "ghost" if k == {"ghost"} else "stroke" for k in labels]
    return np.array(times), names


class Tally:
    """Summed counts and matched errors of one detector in one condition."""

    def __init__(self) -> None:
        self.tp = self.found = self.refs = 0
        self.errors: list[float] = []
        self.kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def add(self, found: list[float], refs: np.ndarray, kinds: list[str]) -> None:
        pairs = mir_eval.util.match_events(refs, np.asarray(found), WINDOW_S)
        self.tp += len(pairs)
        self.found += len(found)
        self.refs += refs.size
        self.errors += [abs(found[j] - refs[i]) * 1000 for i, j in pairs]
        matched = {i for i, _ in pairs}
        for i, kind in enumerate(kinds):
            self.kinds[kind][0] += i in matched
            self.kinds[kind][1] += 1

    def cells(self) -> list[str]:
        p, r = self.tp / max(1, self.found), self.tp / max(1, self.refs)
        ms = np.array(self.errors or [np.nan])
        shares = [f"{v:.3f}" for v in (2 * p * r / max(1e-9, p + r), p, r)]
        return [*shares, f"{np.median(ms):.1f}", f"{np.percentile(ms, 95):.1f}"]


def table(
    tallies: dict[tuple[str, str], Tally], names: list[str], grooves: int, kits: int, setup: str
) -> str:
    """F side by side, then every metric, then recall per kind of reference."""
    rows = [*CONDITIONS, "overall"]
    head = ["| {} | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    refs = tallies[names[0], "overall"].refs
    out = [
        f"{grooves} grooves from {kits} Hydrogen kits, {refs} reference onsets (all conditions); "
        f"+-{WINDOW_S * 1e3:.0f} ms; references within {COMBINE_S * 1e3:.0f} ms merged.",
        f"{setup} aubio: window 1024, hop 256, "
        "default threshold/minioi/silence. librosa: onset_detect, hop 512, bt = backtrack.",
        *("", "F-measure", "", head[0].format("condition"), head[1]),
    ]
    out += [f"| {c} | " + " | ".join(tallies[d, c].cells()[0] for d in names) + " |" for c in rows]
    out += ["", "| condition | detector | F | P | R | median err ms | p95 err ms |"]
    out += ["|---|---|---|---|---|---|---|"]
    out += [
        f"| {c} | {d} | " + " | ".join(tallies[d, c].cells()) + " |" for c in rows for d in names
    ]
    out += ["", "Recall by kind of reference, all conditions", "", head[0].format("kind"), head[1]]
    for kind in ("stroke", "ghost", "flam"):
        counts = [tallies[d, "overall"].kinds[kind] for d in names]
        recalls = " | ".join(f"{hit / max(1, n):.3f}" for hit, n in counts)
        out.append(f"| {kind} ({counts[0][1]}) | {recalls} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python bench/onsets.py --grooves 96 --out onsets.md\n"
        "  python bench/onsets.py --seed 1 --grooves 48 --only ours --set MASK_RATIO=0.4 "
        "--set min_interval=0.03",
    )
    parser.add_argument("--grooves", type=int, default=96, help="grooves to render (default 96)")
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

    by_kit: dict[str, list[Hit]] = defaultdict(list)
    for hit in hydrogen.listing().hits:
        by_kit[hit.kit].append(hit)
    kits = sorted(
        k
        for k, hits in by_kit.items()
        if {"kick", "snare", "hihat"} <= {h.instrument_class for h in hits}
        and k not in EXCLUDED_KITS
    )
    cache: dict[str, tuple[np.ndarray, int]] = {}
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    index_rows = [("groove", "kit", "bpm", "references")]
    for index in tqdm(range(args.grooves), desc="grooves", unit="groove"):
        rng = np.random.default_rng([args.seed, index])
        bpm = 70 + 110 * (index + rng.uniform()) / args.grooves
        notes = pattern(rng, bpm)
        clean, truth = render(notes, Kit(by_kit[kits[index % len(kits)]], rng), cache)
        refs, kinds = merged(truth, [n.kind for n in notes])
        stem = args.wavs / f"g{index:03d}"
        index_rows.append((stem.name, kits[index % len(kits)], f"{bpm:.1f}", str(refs.size)))
        rows = [
            (f"{t:.6f}", n.voice, f"{n.velocity:.3f}", n.kind)
            for t, n in zip(truth, notes, strict=True)
        ]
        write_csv(Path(f"{stem}.onsets.csv"), [("onset_s", "voice", "velocity", "kind"), *rows])
        detections = [("condition", "detector", "onset_s")]
        for name in CONDITIONS:
            path = f"{stem}-{name.replace(' ', '')}.wav"
            soundfile.write(path, condition(name, clean, rng), RATE, subtype="PCM_24")
            audio = soundfile.read(path, dtype="float32")[0]
            for detector, detect in detectors.items():
                found = detect(audio)
                detections += [(name, detector, f"{t:.6f}") for t in found]
                for key in ((detector, name), (detector, "overall")):
                    tallies[key].add(found, refs, kinds)
        write_csv(Path(f"{stem}.detections.csv"), detections)
    write_csv(args.wavs / "index.csv", index_rows)
    text = table(tallies, list(detectors), args.grooves, min(args.grooves, len(kits)), setup)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


def write_csv(path: Path, rows: list[tuple[str, ...]]) -> None:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)


if __name__ == "__main__":
    main()
