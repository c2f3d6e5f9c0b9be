"""Pseudo-labelled copies: more augmented training clips, each labelled by a network
closer to the teacher than the one being trained, at about a millisecond a clip
where the teacher takes 0.4 s.

Issue 14's distillation. The copies are new augmented copies (``augment``) of the
training side's real hits, drawn with another seed than the corpus's, so none
repeats a clip the teacher labelled. They never come from validation or test
kits: the held-out figures still compare the student with the teacher itself.
``trainer train --pseudo DIR`` adds them to the training side; they count as
augmented copies (``--without augmented`` leaves them out too), and the run's
summary says which network labelled them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timbrecast.daemon.contract import INPUT_LENGTH, LABEL_SCALE
from timbrecast.daemon.preprocess import PreprocessError, prepare
from timbrecast.trainer import augment, corpus, machines
from timbrecast.trainer.dataset import Part
from timbrecast.trainer.labelcache import dequantise, quantise
from timbrecast.trainer.machines import MachinesError
from timbrecast.trainer.sources import Hit, PackageMissing
from timbrecast.trainer.split import TRAIN, Split


class PseudoError(ValueError):
    """A pseudo-labelled set that cannot serve this corpus (the message says why)."""


@dataclass(frozen=True)
class Report:
    """How many copies were written, which failed to render and why, and how many
    base hits were left out for want of the drum-machine collection."""

    made: int
    failed: list[str]
    without_collection: int


def base_hits(entries: list[corpus.Entry], split: Split | None = None) -> list[Hit]:
    """The labelled real hits of the training side: what the copies are made from."""
    split = split or Split.load()
    return [
        e.hit
        for e in entries
        if e.labels is not None and e.hit.kind == "real" and split.of(e.hit.kit) == TRAIN
    ]


def new_copies(bases: list[Hit], copies: int, seed: int, held: set[str]) -> list[Hit]:
    """``copies`` augmented copies of each base drawn with ``seed``, less any whose
    recipe is in ``held`` (the corpus's own, which the teacher labelled: a corpus
    built with the same seed would otherwise come back labelled by the network)."""
    return [hit for hit in augment.augmented_hits(bases, copies, seed) if hit.recipe not in held]


def _model_input(hit: Hit) -> tuple[np.ndarray | None, None, str | None]:
    """Worker: the model input of one copy (no teacher's view: nothing hears it)."""
    try:
        audio = corpus.render(hit)
        return quantise(prepare(audio.frames, audio.sample_rate)), None, None
    except (PreprocessError, MachinesError, PackageMissing, ValueError, OSError) as exc:
        return None, None, f"{type(exc).__name__}: {exc}"


def build(
    store: Path,
    network: Path,
    out: Path,
    copies: int,
    seed: int,
    jobs: int,
    progress_factory: Callable[[int, str], object],
    split: Split | None = None,
    labelling: Callable[[], AbstractContextManager] = nullcontext,
) -> Report:
    """Render ``copies`` new copies of each training real hit, label them with
    ``network`` (a ``.keras`` run or a ``.tflite`` export) inside ``labelling`` (the
    command's hush for TensorFlow's log, which must not swallow the progress bar),
    and write them to ``out``."""
    from timbrecast.trainer.evaluate import predict

    entries, _ = corpus.load(store)
    bases = base_hits(entries, split)
    usable = [hit for hit in bases if machines.available() or not machines.needs(hit)]
    bases, without_collection = usable, len(bases) - len(usable)
    hits = new_copies(bases, copies, seed, {e.hit.recipe for e in entries})
    if not hits:
        raise PseudoError(
            f"{store}: no new copies to make "
            f"(no training real hits, or seed {seed} is the corpus's)"
        )
    clips = np.zeros((len(hits), INPUT_LENGTH), dtype=np.int16)
    bar = progress_factory(len(hits), "rendering copies")
    errors = {
        index: error
        for index, _, error in corpus.render_all(hits, clips, jobs, bar.update, _model_input)
        if error is not None
    }
    bar.close()
    failed = [f"{_name(hits[i])}: {error}" for i, error in sorted(errors.items())]
    made = np.array([i for i in range(len(hits)) if i not in errors], dtype=np.int64)
    if not made.size:
        raise PseudoError(f"none of the {len(hits)} copies could be rendered: {failed[0]}")
    kept = clips[made]
    with labelling():
        targets = predict(network, dequantise(kept)).astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "clips.npy", kept)
    np.save(out / "targets.npy", targets)
    with (out / "manifest.jsonl").open("w") as handle:
        for index, labels in zip(made.tolist(), LABEL_SCALE.points(targets), strict=True):
            entry = corpus.Entry(hits[index], "", tuple(float(v) for v in labels))
            handle.write(entry.to_json() + "\n")
    (out / "failures.txt").write_text("".join(f"{line}\n" for line in failed))
    summary = {"network": str(network), "copies": copies, "seed": seed, "clips": len(made)}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return Report(len(made), failed, without_collection)


def _name(hit: Hit) -> str:
    return f"{hit.source} {hit.kit} {hit.instrument}"


def load(folder: Path, split: Split | None = None) -> tuple[Part, str]:
    """A pseudo-labelled set as training clips, and the network that labelled it;
    refused if any clip comes from a kit that this split does not train on."""
    split = split or Split.load()
    try:
        network = str(json.loads((folder / "summary.json").read_text())["network"])
        with (folder / "manifest.jsonl").open() as handle:
            entries = [corpus.Entry.from_json(line) for line in handle]
        clips = dequantise(np.load(folder / "clips.npy"))
        targets = np.load(folder / "targets.npy")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PseudoError(f"{folder}: not a pseudo-labelled set ({exc!r})") from exc
    held_out = sorted({e.hit.kit for e in entries if split.of(e.hit.kit) != TRAIN})
    if held_out:
        raise PseudoError(
            f"{folder}: copies of held-out kits ({', '.join(held_out[:3])}): "
            "built for another split; build it again with `trainer distill`"
        )
    if not len(entries) == len(clips) == len(targets):
        raise PseudoError(f"{folder}: manifest, clips and targets disagree in length")
    return Part(clips, targets, entries), network
