"""Onset detection on drum grooves with known onsets, in the rooms users play in:
ours against aubio and librosa, per condition, velocity band and kind of sound.

The daemon cuts a hit at every onset it finds, so a missed ghost note is a lost
hit and a false onset a bogus one. This measures both on grooves played with the
drums we may train on, in the conditions a live kit meets.

Kits, in turn by groove: Debian's Hydrogen kits (velocity layers picked as
Hydrogen does), the General MIDI drum presets of its SoundFonts and freepats
(``trainer.soundfonts``), the drum machines of ``../shared/data/drum-machines``
(when it is there) and kits of the synthetic generator (``trainer.synth``); by
default only the test kits of ``trainer/data/split.json`` (``--kits``), which the
learned detector (``trainer onsets train``) never trained on.

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
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import mir_eval
import numpy as np
import soundfile
from tqdm import tqdm

from timbrecast.daemon import onset
from timbrecast.daemon.inputs import BLOCK_FRAMES
from timbrecast.daemon.onset import DetectorSettings, OnsetDetector
from timbrecast.trainer.grooves import (
    CONDITIONS,
    KINDS,
    RATE,
    KitMaker,
    Mix,
    Note,
    Sound,
    all_kits,
    condition,
    in_turn,
    mixed,
    pattern,
)

WINDOW_S, COMBINE_S = 0.025, 0.030
#: Velocity bands (of 127) that recall is reported for.
BANDS = ((20, 39), (40, 59), (60, 99), (100, 127))
DRUM_MACHINES = Path(__file__).resolve().parents[1].parent / "shared/data/drum-machines"


def ours(settings: DetectorSettings, method: str) -> Callable[[np.ndarray], list[float]]:
    """The daemon's detector by ``method``, fed its block size (``inputs.BLOCK_FRAMES``, 128)."""

    def detect(audio: np.ndarray) -> list[float]:
        detector = OnsetDetector(RATE, replace(settings, method=method))
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
    fields: dict[str, float] = {}
    constants = {}
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        if name in DetectorSettings.__dataclass_fields__ and name != "method":
            fields[name] = float(value)
        elif name.isupper() and isinstance(getattr(onset, name, None), (int, float)):
            constants[name] = type(getattr(onset, name))(float(value))
        else:
            raise SystemExit(f"onsets.py: --set {assignment}: no such setting or constant")
    for name, value in constants.items():
        setattr(onset, name, value)
    changed = ", ".join(f"{k}={v}" for k, v in {**fields, **constants}.items())
    return DetectorSettings(**fields), (
        f"ours (learned) and ours flux: {changed or 'defaults'}, 128-frame blocks."
    )


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


#: Our detector's methods as the tables name them.
OURS = {"ours": "learned", "ours flux": "flux"}
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


@dataclass(frozen=True)
class Groove:
    """One groove of the benchmark: its kit, tempo, notes and mix, and the generator
    its conditions draw from next."""

    family: str
    kit: int
    bpm: float
    notes: list[Note]
    mix: Mix
    rng: np.random.Generator


def groove(
    seed: int, index: int, count: int, kits: dict[str, list[KitMaker]], cache: dict[str, Sound]
) -> Groove:
    """Groove ``index`` of ``count``, the same for a seed wherever it is played."""
    rng = np.random.default_rng([seed, index])
    bpm = 70 + 110 * (index + rng.uniform()) / count
    family, which, maker = in_turn(kits, index)
    kit = maker.make(rng, cache)
    notes = pattern(rng, bpm)
    return Groove(family, which, bpm, notes, mixed(notes, kit), rng)


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

    def add(
        self, found: list[float], refs: np.ndarray, kinds: list[str], velocities: list[int]
    ) -> None:
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
        "  python bench/onsets.py --seed 1 --kits validation --grooves 60 --only ours "
        "--set activation=0.4",
    )
    parser.add_argument("--grooves", type=int, default=120, help="grooves to render (default 120)")
    parser.add_argument("--seed", type=int, default=0, help="the whole benchmark follows from it")
    parser.add_argument("--out", type=Path, help="also write the Markdown tables to this file")
    parser.add_argument(
        "--wavs", type=Path, default=Path("/tmp/onsetbench"), help="where the audio and CSVs go"
    )
    parser.add_argument(
        "--drum-machines",
        type=Path,
        default=DRUM_MACHINES,
        help=f"the drum-machine collection, if there (default {DRUM_MACHINES})",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[*OURS, *OTHERS],
        help="run only this detector (repeatable; default: all)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one of our settings (activation, threshold, floor_db, min_interval) "
        "or a constant of daemon/onset.py (MASK_RATIO, ...); repeatable",
    )
    parser.add_argument(
        "--kits",
        choices=["test", "validation", "train", "all"],
        default="test",
        help="which kits of trainer/data/split.json play the grooves (default test: the "
        "learned detector never trained on them; tune on validation, with another --seed)",
    )
    args = parser.parse_args()
    args.wavs.mkdir(parents=True, exist_ok=True)
    settings, setup = tuned(args.set)
    detectors = {name: ours(settings, method) for name, method in OURS.items()} | OTHERS
    detectors = {k: v for k, v in detectors.items() if not args.only or k in args.only}

    part = None if args.kits == "all" else args.kits
    kits = {f: makers for f, makers in all_kits(args.drum_machines, part).items() if makers}
    cache: dict[str, Sound] = {}
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    index_rows = [("groove", "family", "kit", "bpm", "references", *CONDITIONS)]
    for index in tqdm(range(args.grooves), desc="grooves", unit="groove"):
        played = groove(args.seed, index, args.grooves, kits, cache)
        family, notes, rng = played.family, played.notes, played.rng
        clean, truth = played.mix.audio, played.mix.truth
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
        index_rows.append(
            (stem.name, family, f"{played.kit}", f"{played.bpm:.1f}", str(refs.size), *described)
        )
    write_csv(args.wavs / "index.csv", index_rows)
    counts = ", ".join(f"{len(makers)} {family}" for family, makers in kits.items())
    header = (
        f"{args.grooves} grooves (seed {args.seed}) from {args.kits} kits in turn: {counts}; "
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
