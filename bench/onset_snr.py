"""Which hits can be heard: each note's own sound against all else around its
attack, and the detectors' recall by that ratio.

``bench/onsets.py`` says how many hits a detector finds per condition; this says
which ones it cannot. It plays the same grooves (same seed, kits and draws), and
for every note that stands alone (no other note within 30 ms) it sends the note's
own sound down the condition's path (``grooves.Heard.of``: the same room, the same
level) and compares it with everything else the condition delivers in the frames
that hold its first 24 ms: the other notes, their tails, the room's, the noise.
Per band of the learned detector's front end (32 mel bands, 12 ms Hann frames
every 4 ms), the note's energy over the rest's; a note's local SNR is its best
band's. Then the recall of ours and of aubio specflux (``bench/onsets.py``'s,
+-25 ms) per SNR bin, per condition, for soft notes (velocity below 40) and all.

    python bench/onset_snr.py --grooves 120
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from onsets import COMBINE_S, DRUM_MACHINES, OTHERS, WINDOW_S, groove, ours  # bench/: this folder
from tqdm import tqdm

from timbrecast.daemon.onset import DetectorSettings
from timbrecast.trainer.audibility import AFTER_S, Bands, local_snr
from timbrecast.trainer.grooves import CONDITIONS, RATE, all_kits, conditioned

#: SNR bins (dB, lower edges) and the velocity below which a note is soft.
BINS = (-np.inf, 0.0, 5.0, 10.0)
SOFT = 40
DETECTORS = ("ours", "aubio specflux")


@dataclass(frozen=True)
class Note:
    """One lone note in one condition: its velocity, local SNR, and who found it."""

    condition: str
    velocity: int
    snr_db: float
    found: tuple[bool, ...]


def lone(truth: list[float]) -> list[int]:
    """Notes with no other note within ``COMBINE_S``: one reference each."""
    times = np.array(truth)
    out = []
    for i, t in enumerate(times):
        others = np.abs(np.delete(times, i) - t)
        if not others.size or others.min() > COMBINE_S:
            out.append(i)
    return out


def table(notes: list[Note], title: str) -> str:
    edges = [*BINS[1:], np.inf]
    names = [
        f"< {BINS[1]:g} dB"
        if low == -np.inf
        else f"{low:g}-{high:g} dB"
        if high < np.inf
        else f">= {low:g} dB"
        for low, high in zip(BINS, edges, strict=True)
    ]
    lines = [
        f"{title}: notes (share), recall of {' / '.join(DETECTORS)}",
        "",
        "| condition | notes | recall | " + " | ".join(names) + " |",
        "|---" * (len(names) + 3) + "|",
    ]
    for condition in [*CONDITIONS, "all"]:
        chosen = [n for n in notes if condition in (n.condition, "all")]
        if not chosen:
            continue
        cells = []
        for low, high in zip(BINS, edges, strict=True):
            inside = [n for n in chosen if low <= n.snr_db < high]
            recall = " / ".join(
                f"{np.mean([n.found[k] for n in inside]):.2f}" if inside else "-"
                for k in range(len(DETECTORS))
            )
            cells.append(f"{len(inside)} ({len(inside) / len(chosen):.0%}): {recall}")
        overall = " / ".join(
            f"{np.mean([n.found[k] for n in chosen]):.3f}" for k in range(len(DETECTORS))
        )
        lines.append(f"| {condition} | {len(chosen)} | {overall} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  python bench/onset_snr.py --grooves 120 --out snr.md",
    )
    parser.add_argument("--grooves", type=int, default=120, help="grooves to play (default 120)")
    parser.add_argument("--seed", type=int, default=0, help="as bench/onsets.py's --seed")
    parser.add_argument(
        "--kits",
        choices=["test", "validation", "train", "all"],
        default="test",
        help="as bench/onsets.py's --kits (default test)",
    )
    parser.add_argument("--drum-machines", type=Path, default=DRUM_MACHINES)
    parser.add_argument("--out", type=Path, help="also write the Markdown tables to this file")
    args = parser.parse_args()

    part = None if args.kits == "all" else args.kits
    kits = {f: makers for f, makers in all_kits(args.drum_machines, part).items() if makers}
    detectors = [ours(DetectorSettings(), "learned"), OTHERS["aubio specflux"]]
    bands = Bands()
    cache: dict = {}
    notes: list[Note] = []
    for index in tqdm(range(args.grooves), desc="grooves", unit="groove"):
        played = groove(args.seed, index, args.grooves, kits, cache)
        mix = played.mix
        alone = lone(mix.truth)
        for name in CONDITIONS:
            heard = conditioned(name, mix.audio, played.rng)
            audio = heard.audio.astype(np.float32)
            found = [np.asarray(detect(audio)) for detect in detectors]
            for i in alone:
                attack = round(mix.truth[i] * RATE)
                snr = local_snr(heard, mix.parts[i], attack, bands)
                if snr is None:
                    continue
                hits = tuple(
                    bool(f.size and np.abs(f - mix.truth[i]).min() <= WINDOW_S) for f in found
                )
                notes.append(Note(name, played.notes[i].velocity, snr, hits))
    header = (
        f"{args.grooves} grooves (seed {args.seed}, {args.kits} kits, bench/onsets.py's); "
        f"lone notes only (no other within {COMBINE_S * 1e3:.0f} ms); local SNR: the note's "
        f"best band over all else, 0-{AFTER_S * 1e3:.0f} ms after its attack; found: a "
        f"detection within +-{WINDOW_S * 1e3:.0f} ms."
    )
    soft = [n for n in notes if n.velocity < SOFT]
    text = "\n\n".join(
        [header, table(soft, f"Velocity below {SOFT}/127"), table(notes, "All velocities")]
    )
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
