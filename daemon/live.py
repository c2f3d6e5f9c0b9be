"""Live capture through PyAudio (PortAudio), in callback mode.

The audio callback runs on PortAudio's thread and must never wait: it copies the
incoming bytes into a ring allocated once at start-up, counts an overrun when
PortAudio reports one or when the ring is full (the block is then dropped, and
counted), and returns. The pipeline's thread reads the ring at its own pace.
PyAudio is the ``live`` extra; it is imported only when live input is asked for.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from timbrecast.daemon.inputs import BLOCK_FRAMES, Block
from timbrecast.daemon.quiet import quiet_stderr

RING_SECONDS = 2.0
BYTES_PER_SAMPLE = 4
#: A running device delivers a block every few ms; this long without one means it
#: is gone (unplugged, suspended, erroring) even if PortAudio still calls it active.
STALL_S = 1.0
#: Some back-ends (PulseAudio's ALSA plugin) take a second or two to start.
FIRST_DATA_S = 5.0


class LiveInputError(RuntimeError):
    """The device cannot be used; the message names it and says why."""


class DeviceMissing(LiveInputError):
    """The device is not there (yet): a USB interface may appear late at boot.

    Not a configuration error: the service exits with ``UNAVAILABLE`` so that
    systemd starts it again, rather than ``CONFIG``, which it never restarts.
    """


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    channels: int
    default_rate: int


def _pyaudio() -> Any:
    try:
        import pyaudio
    except ImportError as exc:
        raise ImportError(
            "live input needs PyAudio: apt-get install portaudio19-dev, then "
            "pip install 'timbrecast[live]'"
        ) from exc
    return pyaudio


def devices() -> list[Device]:
    """Input devices PortAudio can open."""
    pyaudio = _pyaudio()
    with quiet_stderr():
        audio = pyaudio.PyAudio()
    try:
        found = []
        for index in range(audio.get_device_count()):
            info = audio.get_device_info_by_index(index)
            if int(info["maxInputChannels"]) > 0:
                found.append(
                    Device(
                        index,
                        str(info["name"]),
                        int(info["maxInputChannels"]),
                        int(info["defaultSampleRate"]),
                    )
                )
        return found
    finally:
        audio.terminate()


def find_device(wanted: str | None) -> Device:
    """A device by index, by exact name, or by a unique part of its name."""
    available = devices()
    if not available:
        raise DeviceMissing("no audio input device found")
    if wanted is None:
        return available[0]
    if wanted.isdigit():
        matches = [d for d in available if d.index == int(wanted)]
    else:
        matches = [d for d in available if d.name == wanted] or [
            d for d in available if wanted.lower() in d.name.lower()
        ]
    names = ", ".join(f"{d.index}: {d.name}" for d in available)
    if not matches:
        raise DeviceMissing(f"no input device {wanted!r} (inputs: {names})")
    if len(matches) > 1:
        raise LiveInputError(f"input device {wanted!r} is ambiguous (inputs: {names})")
    return matches[0]


class LiveInput:
    """Blocks of (frames, len(channels)) float32 from a capture device."""

    #: A device can be unplugged and come back.
    recoverable = True

    def __init__(
        self,
        device: str | None,
        sample_rate: int | None = None,
        channels: list[int] | None = None,
        block: int = BLOCK_FRAMES,
    ) -> None:
        self.wanted = device
        self.device = find_device(device)
        self.sample_rate = sample_rate or self.device.default_rate
        self.selected = channels or [0]
        if max(self.selected) >= self.device.channels or min(self.selected) < 0:
            raise LiveInputError(
                f"device {self.device.name!r} has {self.device.channels} input channels; "
                f"asked for channel {max(self.selected) + 1}"
            )
        self.open_channels = max(self.selected) + 1
        self.channels = len(self.selected)
        self.block = block
        self.overruns = 0
        self.error: str | None = None
        self._frame_bytes = self.open_channels * BYTES_PER_SAMPLE
        self._fresh_ring()
        self._stream: Any = None
        self._audio: Any = None

    def _fresh_ring(self) -> None:
        self._ring = bytearray(int(RING_SECONDS * self.sample_rate) * self._frame_bytes)
        self._view = memoryview(self._ring)
        self._written = 0
        self._read = 0
        self._anchor_ns = 0
        self._ready = threading.Event()

    def _callback(self, data: bytes, frames: int, _time: dict, status: int) -> tuple:
        pyaudio = self._pa
        if status & pyaudio.paInputOverflow:
            self.overruns += 1
        size = len(data)
        if self._written - self._read + size > len(self._ring):
            self.overruns += 1
            return None, pyaudio.paContinue
        start = self._written % len(self._ring)
        first = min(size, len(self._ring) - start)
        self._view[start : start + first] = data[:first]
        if first < size:
            self._view[: size - first] = data[first:]
        self._anchor_ns = time.time_ns() - self._latency_ns
        self._written += size
        self._ready.set()
        return None, pyaudio.paContinue

    def open(self) -> None:
        self._pa = _pyaudio()
        with quiet_stderr():
            self._audio = self._pa.PyAudio()
        try:
            self._stream = self._audio.open(
                format=self._pa.paFloat32,
                channels=self.open_channels,
                rate=self.sample_rate,
                input=True,
                input_device_index=self.device.index,
                frames_per_buffer=self.block,
                stream_callback=self._callback,
                start=False,
            )
        except (OSError, ValueError) as exc:
            self._audio.terminate()
            raise LiveInputError(f"cannot open {self.device.name!r}: {exc}") from exc
        self._latency_ns = round(self._stream.get_input_latency() * 1e9)
        self._stream.start_stream()

    def close(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(OSError):  # a device that is gone may refuse to stop
                self._stream.stop_stream()
                self._stream.close()
            self._audio.terminate()
            self._stream = None

    def __str__(self) -> str:
        return repr(self.device.name)

    def reopen(self) -> None:
        """The same device, looked up again (its index may change when replugged) and
        opened with the same rate and channels; overruns count on."""
        device = find_device(self.wanted)
        if device.channels < self.open_channels:
            raise LiveInputError(
                f"device {device.name!r} came back with {device.channels} input channels"
            )
        self.device = device
        self.error = None
        self._fresh_ring()
        self.open()

    @property
    def active(self) -> bool:
        return self._stream is not None and self._stream.is_active()

    def __iter__(self) -> Iterator[Block]:
        """Blocks as they arrive; ends when the device stops or stalls (``error`` says)."""
        if self._stream is None:
            self.open()
        heard = time.monotonic()
        while True:
            self._ready.wait(0.2)
            self._ready.clear()
            available = self._written - self._read
            if available < self._frame_bytes:
                silent = time.monotonic() - heard
                if not self.active:
                    self.error = "stream stopped"
                    return
                if silent > (STALL_S if self._written else FIRST_DATA_S):
                    self.error = f"no audio for {silent:.1f} s"
                    return
                continue
            heard = time.monotonic()
            available -= available % self._frame_bytes
            start = self._read % len(self._ring)
            first = min(available, len(self._ring) - start)
            raw = bytes(self._view[start : start + first]) + bytes(self._view[: available - first])
            self._read += available
            frames = np.frombuffer(raw, dtype="<f4").reshape(-1, self.open_channels)
            unix_ns = self._anchor_ns - round(
                (self._written - self._read + available)
                / self._frame_bytes
                * 1e9
                / self.sample_rate
            )
            yield Block(frames[:, self.selected].copy(), unix_ns)
