"""Where audio comes from: a file (paced in real time or as fast as possible), raw
PCM on stdin, an array in memory, a capture device (``live.LiveInput``). Each input
yields (frames, channels) float32 blocks and the UNIX time at which the block's
first frame was heard; ``Pipeline.feed`` takes any of them through one loop.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import soundfile

from timbrecast.daemon.audiofile import AudioFileError, check_readable

BLOCK_FRAMES = 128
#: Frames per block when audio is read as fast as it goes.
OFFLINE_BLOCK = 4096
PCM_FORMATS = {"s16le": np.dtype("<i2"), "f32le": np.dtype("<f4")}


@dataclass(frozen=True)
class Block:
    frames: np.ndarray
    unix_ns: int


class Input(Protocol):
    """What the pipeline and the service ask of an input.

    ``overruns`` counts audio the input lost before it reached the pipeline (a
    device's buffer overflowing); status reports it. A ``recoverable`` input (a
    capture device) can break off and come back: its blocks end with ``error``
    saying why, and ``reopen()`` opens it again, or raises.
    """

    sample_rate: int
    channels: int
    overruns: int
    recoverable: bool
    error: str | None

    def __iter__(self) -> Iterator[Block]: ...

    def close(self) -> None: ...

    def reopen(self) -> None: ...


class Ending:
    """An input whose end is the end (a file, a pipe, an array): nothing to reopen."""

    recoverable = False
    error: str | None = None
    overruns = 0

    def close(self) -> None:
        """Nothing is held open once its blocks are read."""

    def reopen(self) -> None:
        raise ValueError(f"{type(self).__name__} ended and cannot be reopened")


class ArrayInput(Ending):
    """Samples in memory, (frames,) or (frames, channels), as fast as they go."""

    def __init__(self, samples: np.ndarray, sample_rate: int, block: int = OFFLINE_BLOCK) -> None:
        self.frames = np.asarray(samples, dtype=np.float32).reshape(len(samples), -1)
        self.sample_rate = sample_rate
        self.channels = self.frames.shape[1]
        self.block = block

    def __iter__(self) -> Iterator[Block]:
        start_ns = time.time_ns()
        for i in range(0, len(self.frames), self.block):
            yield Block(
                self.frames[i : i + self.block], start_ns + round(i * 1e9 / self.sample_rate)
            )


class Mixed(Ending):
    """Another input's channels averaged to one (``analyze --mix``)."""

    def __init__(self, inner: Input) -> None:
        self.inner = inner
        self.sample_rate = inner.sample_rate
        self.channels = 1

    def __iter__(self) -> Iterator[Block]:
        for block in self.inner:
            yield Block(block.frames.mean(axis=1, keepdims=True), block.unix_ns)


class FileInput(Ending):
    """An audio file in blocks; ``realtime`` paces it as a live input would."""

    def __init__(self, path: Path, realtime: bool, block: int = BLOCK_FRAMES) -> None:
        check_readable(path)
        try:
            self._info = soundfile.info(str(path))
        except (soundfile.LibsndfileError, RuntimeError) as exc:
            raise AudioFileError(f"{path}: not readable as audio ({exc})") from exc
        self.path = path
        self.sample_rate = int(self._info.samplerate)
        self.channels = int(self._info.channels)
        self.realtime = realtime
        self.block = block

    def __iter__(self) -> Iterator[Block]:
        start_ns = time.time_ns()
        start = time.monotonic()
        done = 0
        for frames in soundfile.blocks(
            str(self.path), blocksize=self.block, dtype="float32", always_2d=True
        ):
            if self.realtime:
                delay = start + (done + frames.shape[0]) / self.sample_rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield Block(frames, start_ns + round(done * 1e9 / self.sample_rate))
            done += frames.shape[0]


class PcmInput(Ending):
    """Raw interleaved PCM from a byte stream (stdin by default)."""

    def __init__(
        self,
        sample_rate: int,
        channels: int,
        fmt: str,
        stream: BinaryIO | None = None,
        block: int = BLOCK_FRAMES,
    ) -> None:
        if fmt not in PCM_FORMATS:
            raise ValueError(f"PCM format {fmt!r} (choose from {', '.join(PCM_FORMATS)})")
        self.sample_rate = sample_rate
        self.channels = channels
        self.dtype = PCM_FORMATS[fmt]
        self.stream = stream or sys.stdin.buffer
        self.block = block

    def __iter__(self) -> Iterator[Block]:
        frame_bytes = self.dtype.itemsize * self.channels
        pending = b""
        while True:
            chunk = self.stream.read(self.block * frame_bytes - len(pending))
            if not chunk:
                return
            pending += chunk
            usable = len(pending) - len(pending) % frame_bytes
            if usable == 0:
                continue
            data = np.frombuffer(pending[:usable], dtype=self.dtype).reshape(-1, self.channels)
            pending = pending[usable:]
            frames = data.astype(np.float32)
            if self.dtype.kind == "i":
                frames /= 32768.0
            yield Block(frames, time.time_ns() - round(frames.shape[0] * 1e9 / self.sample_rate))
