"""The library's way in: the hits of a file, an array or a sample library, typed.

    from timbrecast.daemon import analyze

    for hit in analyze("take.wav"):
        print(hit.onset_s, hit.descriptors["brightness"])

It is the daemon's own ``Pipeline``, fed the audio as fast as it goes, so what it
finds is what ``timbrecastd run`` publishes for the same audio (``timbrecastd
analyze`` writes these hits as JSON lines). With ``oneshot=True`` the whole
input is one hit, as a sample library's files are: no onset detection, the
levels of the whole clip, built into a hit by the same code as the pipeline's
timbre messages. docs/api.md shows it at work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from timbrecast.daemon import audiofile, bundled
from timbrecast.daemon.config import source_names
from timbrecast.daemon.contract import SAMPLE_RATE, ModelContractError, early_length
from timbrecast.daemon.inference import Model
from timbrecast.daemon.inputs import OFFLINE_BLOCK, ArrayInput, FileInput, Input, Mixed
from timbrecast.daemon.onset import DetectorSettings
from timbrecast.daemon.pipeline import Pipeline, describe, levels
from timbrecast.daemon.preprocess import PreprocessError, attack_index, prepare, to_mono
from timbrecast.daemon.progress import Progress
from timbrecast.daemon.protocol import Event, Timbre

T = TypeVar("T")


@dataclass(frozen=True)
class Hit:
    """One hit: its source and number, when (s from the start), how loud (the attack's
    peak and RMS, dBFS), how much audio the model heard, and the seven descriptors
    (0-100, in ``DESCRIPTORS`` order) with the model that gave them."""

    source: str
    seq: int
    onset_s: float
    peak_dbfs: float
    rms_dbfs: float
    audio_s: float
    descriptors: dict[str, float]
    model_id: str


@dataclass
class Tally:
    """What became of the files of a run: how many were done, which skipped and why."""

    done: int = 0
    skipped: list[str] = field(default_factory=list)


def load_model(
    model: Model | str | Path | None = None,
    runtime_name: str | None = None,
    threads: int | None = None,
) -> Model:
    """A model as given, read from a path, or the bundled default; the best runtime
    installed and one thread unless named (empty counts as unnamed, as in settings)."""
    if isinstance(model, Model):
        return model
    path = bundled.resolve(model)
    if path is None:
        raise ModelContractError("no model given and none bundled: pass --model FILE.tflite")
    return Model(path, runtime_name=runtime_name or None, threads=threads or 1)


def analyze(
    audio: str | Path | np.ndarray,
    sample_rate: int | None = None,
    *,
    oneshot: bool = False,
    model: Model | str | Path | None = None,
    settings: DetectorSettings | None = None,
    full_second: bool = False,
    mix: bool = False,
    sources: Sequence[str] | None = None,
) -> list[Hit]:
    """Every hit of ``audio``: a file's path, or an array of samples (frames, or
    frames x channels, any rate given as ``sample_rate``), in onset order.

    Each channel is a source, as ``timbrecastd run`` has it: named by ``sources``,
    else ``in1``, ``in2``, ...; a single one (a mono input, or all channels averaged
    with ``mix``) is named after the file (``in1`` for an array)."""
    model = load_model(model)
    if isinstance(audio, np.ndarray):
        if sample_rate is None:
            raise ValueError("an array needs its sample_rate")
        if oneshot:
            return [oneshot_hit(audio.reshape(len(audio), -1), sample_rate, model, "in1")]
        source: Input = ArrayInput(audio, sample_rate)
        single = "in1"
    else:
        path = Path(audio)
        if oneshot:
            clip = audiofile.read(path)
            return [oneshot_hit(clip.frames, clip.sample_rate, model, path.stem)]
        source = FileInput(path, realtime=False, block=OFFLINE_BLOCK)
        single = path.stem
    if mix:
        source = Mixed(source)
    names = source_names(source.channels, sources, single)
    return input_hits(source, names, model, settings, full_second)


def input_hits(
    source: Input,
    names: list[str],
    model: Model,
    settings: DetectorSettings | None,
    full_second: bool,
) -> list[Hit]:
    """The pipeline over an input as fast as it goes: its hits, in onset order."""
    described: list[Timbre] = []
    lock = threading.Lock()

    def sink(event: Event) -> None:
        if isinstance(event, Timbre):
            with lock:
                described.append(event)

    with Pipeline(
        model, source.sample_rate, names, sink, settings, full_second, wait_for_model=True
    ) as pipeline:
        pipeline.feed(source)
    return [
        Hit(
            source=e.source,
            seq=e.seq,
            onset_s=e.stream_time_s,
            peak_dbfs=e.peak_dbfs,
            rms_dbfs=e.rms_dbfs,
            audio_s=e.audio_s,
            descriptors=e.descriptors,
            model_id=e.model_id,
        )
        for e in sorted(described, key=lambda e: (e.stream_time_s, names.index(e.source)))
    ]


def oneshot_hit(frames: np.ndarray, sample_rate: int, model: Model, source: str) -> Hit:
    """A whole clip as one hit."""
    return _described(model, [_oneshot(frames, sample_rate, source)])[0]


def _oneshot(frames: np.ndarray, sample_rate: int, source: str) -> tuple[np.ndarray, dict]:
    """The model input of a clip, and its hit's fields but the model's."""
    clip = prepare(frames, sample_rate)
    mono = to_mono(frames)
    peak, rms = levels(mono)
    return clip, {
        "source": source,
        "seq": 0,
        "onset_s": attack_index(mono) / sample_rate,
        "peak_dbfs": peak,
        "rms_dbfs": rms,
        "audio_s": min(mono.size / sample_rate, 1.0),
    }


def _described(model: Model, batch: list[tuple[np.ndarray, dict]]) -> list[Hit]:
    """The batch's clips through the model, as hits."""
    described = describe(model, [clip for clip, _ in batch])
    early_ms = model.contract.early_ms
    heard = 1.0 if early_ms is None else early_length(early_ms) / SAMPLE_RATE
    return [
        Hit(
            **{**fields, "audio_s": min(fields["audio_s"], heard)},
            descriptors=descriptors,
            model_id=model.model_id,
        )
        for (_, fields), descriptors in zip(batch, described, strict=True)
    ]


def _each(
    paths: list[Path],
    label: str,
    tally: Tally,
    stop: threading.Event,
    work: Callable[[Path], T],
    errors: tuple[type[Exception], ...],
) -> Iterator[tuple[Path, T]]:
    """``work(path)`` for each path, with a progress bar, until ``stop`` is set; a file
    it cannot do (``errors``, or unreadable audio) is in ``tally`` with the reason."""
    progress = Progress(len(paths), label)
    for path in paths:
        if stop.is_set():
            break
        progress.update()
        try:
            result = work(path)
        except audiofile.AudioFileError as exc:  # its message starts with the path
            tally.skipped.append(str(exc))
            continue
        except errors as exc:
            tally.skipped.append(f"{path}: {exc}")
            continue
        yield path, result
    progress.close()


def _prepared(path: Path) -> tuple[np.ndarray, dict]:
    audio = audiofile.read(path)
    return _oneshot(audio.frames, audio.sample_rate, path.stem)


def tag_files(
    paths: list[Path], model: Model, tally: Tally, stop: threading.Event
) -> Iterator[list[tuple[Path, Hit]]]:
    """Each file as one hit, a model batch at a time: the fast way to tag a library.
    Stops before the next file once ``stop`` is set; what fails is in ``tally``."""
    batch: list[tuple[Path, tuple[np.ndarray, dict]]] = []

    def flush() -> list[tuple[Path, Hit]]:
        hits = _described(model, [prepared for _, prepared in batch])
        done = [(path, hit) for (path, _), hit in zip(batch, hits, strict=True)]
        tally.done += len(batch)
        batch.clear()
        return done

    for path, prepared in _each(paths, "tagging", tally, stop, _prepared, (PreprocessError,)):
        batch.append((path, prepared))
        if len(batch) == model.batch:
            yield flush()
    if batch:
        yield flush()


def analyze_files(
    paths: list[Path],
    analyse: Callable[[Path], list[Hit]],
    tally: Tally,
    stop: threading.Event,
) -> Iterator[list[tuple[Path, Hit]]]:
    """``analyse(path)`` of each file, a file at a time; stops before the next file once
    ``stop`` is set; what fails is in ``tally``."""
    for path, found in _each(paths, "analysing", tally, stop, analyse, (OSError, ValueError)):
        tally.done += 1
        yield [(path, hit) for hit in found]
