"""Where audio comes from: a file (paced in real time or as fast as possible),
raw PCM on stdin. Each input yields (frames, channels) float32 blocks and the
UNIX time at which the block's first frame was heard."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile

from timbrecast.daemon.audiofile import AudioFileError, check_readable

BLOCK_FRAMES = 128
PCM_FORMATS = {"s16le": np.dtype("<i2"), "f32le": np.dtype("<f4")}


@dataclass(frozen=True)
class Block:
    frames: np.ndarray
    unix_ns: int


class FileInput:
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
        self.overruns = 0

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


class PcmInput:
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
        self.overruns = 0

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
