"""The labelled corpus: which clips it holds, how each is made, what it is labelled.

Every clip is a ``Hit`` whose recipe renders it again from Debian's packages,
the synthetic generator or a user's folder. ``build`` renders every hit (in
parallel) into two things: the model input (``prepare``), which training reads,
and the teacher's view (``heard``), which the label describes. Each is keyed by
its content hash; labels come from the committed corpus where both keys match,
then from the local label cache by the view's key, and the teacher labels only
the rest. So a fresh machine rebuilds the committed corpus without relabelling,
and any clip whose audio came out different (another package version, another
resampler) is relabelled rather than trusted.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import numpy as np

from timbrecast.daemon import audiofile
from timbrecast.daemon.audiofile import Audio
from timbrecast.daemon.contract import DESCRIPTORS, INPUT_LENGTH
from timbrecast.daemon.preprocess import PreprocessError, prepare
from timbrecast.trainer import (
    augment,
    freesound,
    hydrogen,
    machines,
    samplepacks,
    soundfonts,
    synth,
)
from timbrecast.trainer.heard import View, heard
from timbrecast.trainer.labelcache import (
    CachedLabel,
    LabelCache,
    clip_key,
    dequantise,
    quantise,
)
from timbrecast.trainer.labeler import Clip, label_clips
from timbrecast.trainer.pool import process_pool
from timbrecast.trainer.sources import AUGMENTED, Hit, Listing, PackageMissing
from timbrecast.trainer.split import TEST, TRAIN, VALIDATION, Split

#: The committed corpus: one JSON object per clip, gzip-compressed.
COMMITTED = Path(__file__).parent / "data" / "corpus.jsonl.gz"
USER_SOURCE = "user"
#: Base renders a worker keeps for the augmented copies that follow them.
BASES_CACHED = 4


@dataclass(frozen=True)
class CorpusSpec:
    """How big the default corpus is: synthetic hits, copies per real hit (ten of each
    Debian hit, eight of each drum machine's, which are more than twice as many),
    and where the optional sources are. The defaults make about 40,500 clips."""

    synthetic: int = 5500
    copies: int = 10
    seed: int = 0
    user_dirs: tuple[Path, ...] = ()
    freesound_home: Path | None = None
    drum_machines: Path | None = None
    machine_copies: int = 8


@dataclass(frozen=True)
class Entry:
    """One clip of the corpus and its fate: labels, or the reason it has none.

    ``key`` hashes the model input, ``heard`` the teacher's view the labels describe
    (empty in a corpus labelled before there was one: those labels are stale). An
    entry with neither labels nor an error is pending: a build stopped before the
    teacher reached it (``stop_after``), and the next build labels it.
    """

    hit: Hit
    key: str
    labels: tuple[float, ...] | None
    error: str | None = None
    heard: str = ""

    @property
    def pending(self) -> bool:
        return self.labels is None and self.error is None

    def to_json(self) -> str:
        row = {
            "source": self.hit.source,
            "kit": self.hit.kit,
            "instrument": self.hit.instrument,
            "class": self.hit.instrument_class,
            "recipe": self.hit.recipe,
            "key": self.key,
        }
        if self.heard:
            row["heard"] = self.heard
        if self.labels is not None:
            row["labels"] = [round(v, 4) for v in self.labels]
        if self.error is not None:
            row["error"] = self.error
        return json.dumps(row, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> Entry:
        row = json.loads(line)
        hit = Hit(row["source"], row["kit"], row["instrument"], row["class"], row["recipe"])
        labels = tuple(row["labels"]) if "labels" in row else None
        return cls(hit, row["key"], labels, row.get("error"), row.get("heard", ""))


def user_hits(folder: Path) -> list[Hit]:
    """A user's one-shots; each top-level subfolder is a kit (the split unit)."""
    hits = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in audiofile.SUFFIXES or not path.is_file():
            continue
        relative = path.relative_to(folder)
        kit = f"{folder.name}/{relative.parts[0]}" if len(relative.parts) > 1 else folder.name
        recipe = Hit.make_recipe(path=str(path.resolve()))
        hits.append(Hit(USER_SOURCE, kit, path.stem, "perc", recipe))
    return hits


def list_hits(spec: CorpusSpec) -> Listing:
    """Every hit of the corpus the spec describes, in a stable order."""
    drums = hydrogen.listing()
    fonts = soundfonts.listing()
    packs = samplepacks.listing()
    real = drums.hits + fonts.hits + packs.hits
    users = [hit for folder in spec.user_dirs for hit in user_hits(folder)]
    dataset = freesound.listing(spec.freesound_home) if spec.freesound_home else Listing([], [])
    boxes = machines.listing(spec.drum_machines) if spec.drum_machines else Listing([], [])
    hits = (
        real
        + users
        + augment.augmented_hits(real + users, spec.copies, spec.seed)
        + synth.hits(spec.synthetic, spec.seed)
        + dataset.hits
        + boxes.hits
        + augment.augmented_hits(boxes.hits, spec.machine_copies, spec.seed)
    )
    left_out = drums.left_out + fonts.left_out + packs.left_out + dataset.left_out
    return Listing(hits, left_out + boxes.left_out)


def _render_plain(hit: Hit) -> Audio:
    if hit.source in hydrogen.SOURCES:
        return hydrogen.render(hit)
    if hit.source in soundfonts.SOURCES:
        return soundfonts.render(hit)
    if hit.source == synth.SOURCE:
        return synth.render_hit(hit)
    if hit.source == USER_SOURCE:
        return audiofile.read(hit.recipe_fields()["path"])
    if hit.source == freesound.SOURCE:
        return freesound.render(hit)
    if hit.source == machines.SOURCE:
        return machines.render(hit)
    if hit.source in samplepacks.SOURCES:
        return samplepacks.render(hit)
    raise ValueError(f"unknown source {hit.source!r}")


@lru_cache(maxsize=BASES_CACHED)
def _render_base(hit: Hit) -> Audio:
    """A base hit's audio, kept for its next augmented copies: they come in a row
    (``augment.augmented_hits``), and a SoundFont note costs a synthesiser process
    that loads the whole font (0.46 s here) where the copy itself costs 10 ms. Read
    only, so no augmentation step can change it for the copies after."""
    audio = _render_plain(hit)
    audio.frames.setflags(write=False)
    return audio


def render(hit: Hit) -> Audio:
    """The audio of any hit, augmented or not."""
    if hit.source.endswith(AUGMENTED):
        return augment.render_augmented(hit, _render_base)
    return _render_plain(hit)


#: What a worker hands back for one hit: the stored model input and the teacher's
#: view, or the reason there are none.
Rendered = tuple[np.ndarray | None, View | None, str | None]
#: What a render worker makes of the teacher's view: the view, or only its key.
T = TypeVar("T")


def _prepare_hit(hit: Hit) -> Rendered:
    """Worker: the stored model input and teacher's view of one hit."""
    try:
        audio = render(hit)
        model_input = quantise(prepare(audio.frames, audio.sample_rate))
        return model_input, heard(audio.frames, audio.sample_rate), None
    except (
        PreprocessError,
        audiofile.AudioFileError,
        machines.MachinesError,
        PackageMissing,
        ValueError,
        OSError,
    ) as exc:
        return None, None, f"{type(exc).__name__}: {exc}"


def _check_hit(hit: Hit) -> tuple[np.ndarray | None, None, str | None]:
    """Worker for ``verify``: as ``_prepare_hit``, but hands back no teacher's view.
    A check needs to know that the view could be made (``build`` would fail the hit
    otherwise: the error says so), not the view itself, and the views of a whole
    corpus are about 2 GB to ship between processes."""
    model_input, _, error = _prepare_hit(hit)
    return model_input, None, error


def committed_entries(path: Path = COMMITTED) -> list[Entry]:
    if not path.is_file():
        return []
    with gzip.open(path, "rt") as handle:
        return [Entry.from_json(line) for line in handle if line.strip()]


def write_entries(entries: list[Entry], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as raw:
        raw.write("".join(e.to_json() + "\n" for e in entries).encode())


@dataclass
class BuildReport:
    """What a build did, for the summary line and the closing note."""

    clips: int = 0
    labelled_now: int = 0
    verified: int = 0
    mismatched: int = 0
    new: int = 0
    #: Clips whose committed label describes another view of the hit than the
    #: teacher's (a corpus labelled before ``heard``, with no view recorded): relabelled.
    stale: int = 0
    #: Clips left for a later build: the teacher had not reached them at ``stop_after``.
    pending: int = 0
    #: Clips that took the user's own labels (``--labels``), and that file's rows
    #: that named no clip of the build.
    user_labelled: int = 0
    unmatched_labels: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


class Views:
    """The teacher's views of a build's clips, in a file beside the store: about
    2 GB for 23,000 clips, more than a user's 100,000 should hold in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = path.open("wb")
        self._spans: dict[int, tuple[int, int, int]] = {}
        self._end = 0
        self._data: np.ndarray = np.zeros(0, dtype="<f4")

    def add(self, index: int, view: View) -> None:
        self._handle.write(np.asarray(view.samples, dtype="<f4").tobytes())
        self._spans[index] = (self._end, view.samples.size, view.rate)
        self._end += view.samples.size

    def close(self) -> None:
        """Done adding: from now on the views are read from the file."""
        self._handle.close()
        if self._end:
            self._data = np.memmap(self.path, dtype="<f4", mode="r")

    def __getitem__(self, index: int) -> View:
        offset, size, rate = self._spans[index]
        return View(np.array(self._data[offset : offset + size]), rate)


def render_all(
    hits: list[Hit],
    store: np.ndarray,
    jobs: int,
    progress: Callable[[int], None],
    worker: Callable[[Hit], tuple[np.ndarray | None, T, str | None]] = _prepare_hit,
) -> Iterator[tuple[int, T, str | None]]:
    """Render every hit: its model input into ``store``; yields (index, what the
    worker made of the teacher's view, error)."""
    with process_pool(jobs) as pool:
        results = pool.map(worker, hits, chunksize=16)
        for index, (clip, view, error) in enumerate(results):
            if clip is not None:
                store[index] = clip
            progress(1)
            yield index, view, error


def label_order(hits: list[Hit], indices: list[int]) -> list[int]:
    """The clips to label: test kits first, then validation, then training; on each
    side the real hits, then synthetic ones, then augmented copies. A build stopped
    early (``stop_after``) leaves whole held-out sets to evaluate on, and the
    training side's most valuable clips."""
    split = Split.load()
    sides = {TEST: 0, VALIDATION: 1, TRAIN: 2}

    kinds = {"real": 0, "synthetic": 1, "augmented": 2}

    def rank(index: int) -> tuple[int, int]:
        hit = hits[index]
        return sides[split.of(hit.kit)], kinds[hit.kind]

    return sorted(indices, key=rank)


def build(
    hits: list[Hit],
    store_dir: Path,
    cache: LabelCache,
    jobs: int,
    progress_factory: Callable[[int, str], object],
    committed: list[Entry] | None = None,
    user_labels: dict[str, tuple[float, ...]] | None = None,
    scheduler: str | None = None,
    stop_after: float | None = None,
) -> tuple[list[Entry], BuildReport]:
    """Render, verify against the committed corpus, label what is new.

    ``user_labels`` (resolved path -> seven values) label the user's clips they
    name, in place of the teacher; the dataset's own labels do the same for
    Freesound clips. ``scheduler``: the teacher runs on that Dask cluster (rendering
    stays here: it reads the Debian packages installed on this machine).
    ``stop_after``: seconds of labelling, after which the clips the teacher has not
    reached are left pending (``Entry.pending``) for the next build to label; those
    whose labels are committed or cached still take them.
    """
    store_dir.mkdir(parents=True, exist_ok=True)
    store = np.lib.format.open_memmap(
        store_dir / "clips.npy", mode="w+", dtype=np.int16, shape=(len(hits), INPUT_LENGTH)
    )
    report = BuildReport(clips=len(hits))
    errors: dict[int, str] = {}
    views = Views(store_dir / "heard.i16")
    heard_keys: dict[int, str] = {}
    bar = progress_factory(len(hits), "rendering")
    for index, view, error in render_all(hits, store, jobs, bar.update):
        if error is not None:
            errors[index] = error
        elif view is not None:
            views.add(index, view)
            heard_keys[index] = view.key
    bar.close()
    views.close()
    store.flush()

    known = {(e.hit.source, e.hit.recipe): e for e in (committed or [])}
    keys = {i: clip_key(dequantise(store[i])) for i in range(len(hits)) if i not in errors}
    for index, key in keys.items():
        previous = known.get((hits[index].source, hits[index].recipe))
        if previous is None:
            report.new += 1
        elif previous.key != key:
            report.mismatched += 1
        else:
            report.verified += 1
            if not previous.heard:
                report.stale += 1
            elif not previous.pending and cache.get(heard_keys[index]) is None:
                # The model input matches to the bit, so this is the committed hit. Its
                # view may still differ in the last bits from the one labelled: float
                # rounding differs between CPUs (9 % of the views on an AMD EPYC, where
                # the teacher gave 3,549 of 3,551 of them the committed labels to 0.001).
                cache.put(heard_keys[index], CachedLabel(previous.labels, previous.error, 0.0))

    entries: dict[int, Entry] = {}
    given = dict(user_labels or {})
    for index, key in keys.items():
        hit = hits[index]
        if hit.source == freesound.SOURCE:
            entries[index] = Entry(hit, key, freesound.labels(hit), heard=heard_keys[index])
        elif hit.source == USER_SOURCE and hit.recipe_fields()["path"] in given:
            labels = given[hit.recipe_fields()["path"]]
            entries[index] = Entry(hit, key, labels, heard=heard_keys[index])
            report.user_labelled += 1
    used = {h.recipe_fields()["path"] for h in hits if h.source == USER_SOURCE}
    report.unmatched_labels = sorted(set(given) - used)

    order = label_order(hits, [i for i in keys if i not in entries])
    deadline = None if stop_after is None else time.monotonic() + stop_after

    def clips() -> Iterator[Clip]:
        """Past the deadline, only the clips whose labels are known (committed or
        cached): a stopped build must not leave a committed label pending."""
        for index in order:
            late = deadline is not None and time.monotonic() > deadline
            if late and cache.get(heard_keys[index]) is None:
                continue
            yield Clip(str(index), heard_keys[index], views[index])

    bar = progress_factory(len(order), "labelling")
    for outcome in label_clips(clips(), cache, jobs, scheduler):
        bar.update(1)
        index = int(outcome.name)
        report.labelled_now += not outcome.cached
        entries[index] = Entry(
            hits[index], keys[index], outcome.values, outcome.error, heard_keys[index]
        )
    bar.close()
    views.path.unlink()
    for index in order:
        if index not in entries:
            entries[index] = Entry(hits[index], keys[index], None, heard=heard_keys[index])
            report.pending += 1
    for index, error in errors.items():
        entries[index] = Entry(hits[index], "", None, error)
    ordered = [entries[i] for i in range(len(hits))]
    report.failed = [
        (f"{e.hit.source} {e.hit.kit} {e.hit.instrument}", e.error or "")
        for e in ordered
        if e.error is not None
    ]
    with (store_dir / "manifest.jsonl").open("w") as handle:
        handle.writelines(e.to_json() + "\n" for e in ordered)
    return ordered, report


def load(store_dir: Path) -> tuple[list[Entry], np.ndarray]:
    """A built corpus: entries and the int16 clip store (memory-mapped)."""
    with (store_dir / "manifest.jsonl").open() as handle:
        entries = [Entry.from_json(line) for line in handle]
    return entries, np.load(store_dir / "clips.npy", mmap_mode="r")


def label_matrix(entries: list[Entry]) -> np.ndarray:
    """(n, 7) labels in ``DESCRIPTORS`` order (NaN rows for unlabelled clips)."""
    return np.array(
        [e.labels if e.labels is not None else (np.nan,) * len(DESCRIPTORS) for e in entries]
    )


@dataclass(frozen=True)
class Verification:
    """How many committed clips this machine renders to the same model input."""

    matched: int
    mismatched: list[Entry]
    unrenderable: list[Entry]
    #: Clips of the drum-machine collection, not checked: it is not on this machine.
    absent: list[Entry] = field(default_factory=list)


def verify(
    committed: list[Entry],
    store_dir: Path,
    jobs: int,
    progress_factory: Callable[[int, str], object],
) -> Verification:
    """Render every committed clip from its recipe and compare content hashes.

    ``store_dir`` ends up a corpus store that ``load`` reads, holding the clips
    that matched with their committed labels: evaluating on it needs no teacher.
    Without the drum-machine collection (``machines.use``) its clips are counted
    as absent and left out of the store.
    """
    here = machines.available()
    wanted = [e for e in committed if e.key and (here or not machines.needs(e.hit))]
    absent = [e for e in committed if e.key and not here and machines.needs(e.hit)]
    store_dir.mkdir(parents=True, exist_ok=True)
    store = np.lib.format.open_memmap(
        store_dir / "clips.npy", mode="w+", dtype=np.int16, shape=(len(wanted), INPUT_LENGTH)
    )
    bar = progress_factory(len(wanted), "verifying")
    failed: set[int] = set()
    hits = [e.hit for e in wanted]
    for i, _, error in render_all(hits, store, jobs, bar.update, _check_hit):
        if error is not None:
            failed.add(i)
    bar.close()
    store.flush()
    # The model input, not the teacher's view, decides: a view's last bits differ
    # between CPUs (see ``build``), and its labels do not.
    differing = {
        i
        for i, e in enumerate(wanted)
        if i not in failed and clip_key(dequantise(store[i])) != e.key
    }
    unusable = failed | differing
    with (store_dir / "manifest.jsonl").open("w") as handle:
        for i, e in enumerate(wanted):
            kept = e if i not in unusable else Entry(e.hit, e.key, None, "differs here")
            handle.write(kept.to_json() + "\n")
    mismatched = [wanted[i] for i in sorted(differing)]
    return Verification(
        len(wanted) - len(failed) - len(mismatched),
        mismatched,
        [wanted[i] for i in sorted(failed)],
        absent,
    )
