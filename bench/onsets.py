"""Onset detection on grooves rendered from Debian's Hydrogen kits, against aubio
and librosa, in four conditions.

Each groove is the project's drum pattern (``timbrecast.trainer.synth.pattern``:
a backbeat with ghost notes down to a tenth of full velocity, kick and hi-hat on
the same sample, flams 25-40 ms apart, an open hat, a tom fill and a crash)
played with one Hydrogen kit's own samples, velocity layers chosen by the note's
velocity, at a random tempo from 70 to 180 bpm. The true onset of each note is
where its sample's attack (first sample at 10 % of its peak) lands in the mix.

Conditions: clean; white noise at -50 dBFS RMS; a room (exponentially decaying
noise impulse response, RT60 0.5 s, 30 % wet); the clean mix 24 dB down.

Scoring follows onset-evaluation practice (madmom's ``combine``): annotations
within 30 ms of each other count as one onset (a flam, or kick and hat
together), and so do detections; then detections are matched one-to-one to
annotations within +-25 ms. Timing errors are those of matched pairs.

    python bench/onsets.py --grooves 24 --out onsets.md
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import soxr
from tqdm import tqdm

from timbrecast.daemon.onset import DetectorSettings, OnsetDetector
from timbrecast.daemon.preprocess import to_mono
from timbrecast.trainer import hydrogen
from timbrecast.trainer.sources import Hit
from timbrecast.trainer.synth import pattern

RATE = 44_100
WINDOW_S = 0.025
COMBINE_S = 0.030
CLASS_OF_VOICE = {
    "kick": "kick",
    "snare": "snare",
    "hihat_closed": "hihat",
    "hihat_open": "hihat",
    "cymbal": "cymbal",
    "tom_high": "tom",
    "tom_mid": "tom",
    "tom_floor": "tom",
}


@dataclass(frozen=True)
class Groove:
    name: str
    audio: np.ndarray
    onsets: list[float]


def attack_s(audio: np.ndarray) -> float:
    magnitude = np.abs(audio)
    return int(np.argmax(magnitude >= 0.1 * magnitude.max())) / RATE


def load(hit: Hit, cache: dict[str, np.ndarray]) -> np.ndarray:
    if hit.recipe not in cache:
        audio = hydrogen.render(hit)
        mono = to_mono(audio.frames).astype(np.float64)
        if audio.sample_rate != RATE:
            mono = soxr.resample(mono, audio.sample_rate, RATE)
        cache[hit.recipe] = mono / max(1e-9, float(np.abs(mono).max()))
    return cache[hit.recipe]


def pick(candidates: list[Hit], voice: str, velocity: float) -> Hit:
    """The instrument the voice names (open/closed hat, high/floor tom), then the
    velocity layer that holds the note's velocity."""
    words = voice.split("_")[1:]
    named = [h for h in candidates if any(w in h.instrument.lower() for w in words)]
    pool = named or candidates
    instruments = sorted({h.instrument for h in pool})
    if voice.startswith("tom"):
        index = {"tom_high": 0, "tom_mid": len(instruments) // 2, "tom_floor": -1}[voice]
        instrument = instruments[index]
    else:
        instrument = instruments[0]
    layers = [h for h in pool if h.instrument == instrument]
    for hit in layers:
        fields = hit.recipe_fields()
        if fields["velocity_min"] <= velocity <= fields["velocity_max"]:
            return hit
    return layers[-1]


def render(seed: int, kits: dict[str, dict[str, list[Hit]]], cache: dict) -> Groove:
    rng = np.random.default_rng(seed)
    kit = sorted(kits)[seed % len(kits)]
    bpm = float(rng.uniform(70, 180))
    notes = pattern(rng, 4, bpm)
    mix = np.zeros(round((4 * 4 * 60 / bpm + 1.5) * RATE))
    onsets = []
    for note in notes:
        candidates = kits[kit].get(CLASS_OF_VOICE[note.voice])
        if not candidates:
            continue
        audio = load(pick(candidates, note.voice, note.velocity), cache)
        start = round((note.time_s + 0.2) * RATE)
        part = audio[: mix.size - start]
        mix[start : start + part.size] += note.velocity * part
        onsets.append(start / RATE + attack_s(audio))
    mix *= 10 ** (-1 / 20) / float(np.abs(mix).max())
    return Groove(f"{kit} {bpm:.0f} bpm", mix.astype(np.float32), sorted(onsets))


def condition(name: str, audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if name == "clean":
        return audio
    if name == "noise":
        return (audio + rng.normal(0, 10 ** (-50 / 20), audio.size)).astype(np.float32)
    if name == "room":
        t = np.arange(round(0.6 * RATE)) / RATE
        response = rng.normal(0, 1, t.size) * np.exp(-6.91 * t / 0.5)
        response[: round(0.005 * RATE)] = 0.0
        wet = np.convolve(audio, response)[: audio.size]
        wet *= np.abs(audio).max() / np.abs(wet).max()
        mixed = 0.7 * audio + 0.3 * wet
        return (mixed * 10 ** (-1 / 20) / np.abs(mixed).max()).astype(np.float32)
    if name == "-24 dB":
        return (audio * 10 ** (-24 / 20)).astype(np.float32)
    raise ValueError(name)


def ours(audio: np.ndarray) -> list[float]:
    """The daemon's detector, fed 128-frame blocks as the daemon feeds it."""
    detector = OnsetDetector(RATE, DetectorSettings())
    found = []
    for start in range(0, audio.size, 128):
        found += [e.sample / RATE for e in detector.process(audio[start : start + 128])]
    return found


def aubio_detector(method: str) -> Callable[[np.ndarray], list[float]]:
    def detect(audio: np.ndarray) -> list[float]:
        import aubio

        hop = 256
        onset = aubio.onset(method, 1024, hop, RATE)
        found = []
        padded = np.concatenate([audio, np.zeros(-audio.size % hop, np.float32)])
        for start in range(0, padded.size, hop):
            if onset(padded[start : start + hop].astype(np.float32)):
                found.append(onset.get_last_s())
        return found

    return detect


def librosa_detector(audio: np.ndarray) -> list[float]:
    import librosa

    found = librosa.onset.onset_detect(y=audio, sr=RATE, units="time", backtrack=True)
    return [float(t) for t in found]


DETECTORS: dict[str, Callable[[np.ndarray], list[float]]] = {
    "timbrecast (online)": ours,
    "aubio hfc (online)": aubio_detector("hfc"),
    "aubio specflux (online)": aubio_detector("specflux"),
    "librosa onset_detect (offline)": librosa_detector,
}
CONDITIONS = ("clean", "noise", "room", "-24 dB")


def combine(times: list[float]) -> list[float]:
    out: list[float] = []
    for t in sorted(times):
        if not out or t - out[-1] > COMBINE_S:
            out.append(t)
    return out


def match(found: list[float], truth: list[float]) -> tuple[int, int, int, list[float]]:
    """(true positives, detections, annotations, timing errors) after combining."""
    found, truth = combine(found), combine(truth)
    used: set[int] = set()
    errors = []
    for t in truth:
        if not found:
            break
        distance = np.abs(np.asarray(found) - t)
        for j in np.argsort(distance):
            if distance[j] > WINDOW_S:
                break
            if j not in used:
                used.add(int(j))
                errors.append(found[j] - t)
                break
    return len(errors), len(found), len(truth), errors


def row(name: str, tally: list) -> str:
    tp, found, truth, errors = tally
    precision, recall = tp / max(1, found), tp / max(1, truth)
    f = 2 * precision * recall / max(1e-9, precision + recall)
    ms = np.abs(errors) * 1000 if errors else np.zeros(1)
    return (
        f"| {name} | {f:.3f} | {precision:.3f} | {recall:.3f} | "
        f"{np.median(ms):.1f} | {np.percentile(ms, 95):.1f} | {truth} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python bench/onsets.py --grooves 24 --out onsets.md",
    )
    parser.add_argument("--grooves", type=int, default=24, help="grooves to render (default 24)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the Markdown table here")
    args = parser.parse_args()

    kits: dict[str, dict[str, list[Hit]]] = defaultdict(lambda: defaultdict(list))
    for hit in hydrogen.listing().hits:
        kits[hit.kit][hit.instrument_class].append(hit)
    usable = {k: v for k, v in kits.items() if {"kick", "snare", "hihat"} <= set(v)}
    cache: dict[str, np.ndarray] = {}
    tallies: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0, 0, []])
    for index in tqdm(range(args.grooves), desc="grooves", unit="groove"):
        groove = render(args.seed + index, usable, cache)
        rng = np.random.default_rng(args.seed + index)
        for name in CONDITIONS:
            audio = condition(name, groove.audio, rng)
            for detector, detect in DETECTORS.items():
                tp, found, truth, errors = match(detect(audio), groove.onsets)
                for key in ((detector, name), (detector, "overall")):
                    tally = tallies[key]
                    tally[0] += tp
                    tally[1] += found
                    tally[2] += truth
                    tally[3] += errors
    lines = [
        f"{args.grooves} grooves from {len(usable)} Hydrogen kits, +-{WINDOW_S * 1000:.0f} ms, "
        f"onsets within {COMBINE_S * 1000:.0f} ms combined",
        "",
        "| detector, condition | F | precision | recall | median error ms | p95 error ms "
        "| onsets |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in (*CONDITIONS, "overall"):
        for detector in DETECTORS:
            lines.append(row(f"{detector}, {name}", tallies[(detector, name)]))
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(table + "\n")


if __name__ == "__main__":
    main()
