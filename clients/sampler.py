"""Plays library samples on an audio output: ``timbrecast-match --play``.

A PortAudio output stream (PyAudio, the live extra) pulls blocks from a
callback that mixes the voices that are sounding; a new voice is handed over
through a queue, so the matcher never waits on the audio thread and the audio
thread takes no lock of ours (it still needs Python's, the GIL, for each block:
hence blocks of 512 frames). Each voice starts at the beginning of the next
block; when that block reaches the converter is PortAudio's to say (its DAC
time for the block, or the stream's output latency after the callback), which
gives each hit's hit-to-output latency: from its
attack on the daemon's clock (``unix_ns``, itself corrected for the input's
latency) to its sample at the output. On one machine the clocks are the same.

Samples are read (soundfile) and resampled (soxr) when first chosen and kept
(``CACHE`` of them, least recently used out), so the first hit on a sample pays
for reading it and later ones do not.
"""

from __future__ import annotations

import queue
import statistics
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from timbrecast.clients import _cli

#: Samples kept decoded; a drummer's kit uses a few dozen.
CACHE = 256
#: Frames per output block (10.7 ms at 48 kHz). Through PulseAudio's ALSA plugin
#: a callback that is late once stalls the output for over a second: at 128 and
#: 256 frames that happened in one pass of the demo in three, at 512 in none
#: (docs/benchmarks.md).
BLOCK = 512
#: Voices sounding at once; the oldest is cut when a new one needs the room.
VOICES = 32
#: How long to wait at start for the output to ask for its first block.
STARTUP_S = 5.0


@dataclass
class _Voice:
    audio: np.ndarray
    gain: float
    hit_ns: int
    position: int = 0


@dataclass
class Playback:
    """What the sampler did: voices played and cut, and their latencies (ms)."""

    played: int = 0
    cut: int = 0
    unreadable: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> str:
        if not self.latencies_ms:
            return f"played {self.played} samples"
        ordered = sorted(self.latencies_ms)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return (
            f"played {self.played} samples ({self.cut} cut for room, "
            f"{len(self.unreadable)} unreadable); hit to output: median "
            f"{statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms"
        )


class Sampler:
    """One output stream; ``play(path, gain, hit_ns)`` from one thread (the matcher's)."""

    def __init__(
        self, device: str | None = None, sample_rate: int = 48_000, block: int = BLOCK
    ) -> None:
        _cli.require("pyaudio", "pyaudio", "live")
        import pyaudio

        self._pyaudio = pyaudio
        self.sample_rate = sample_rate
        self.playback = Playback()
        self._incoming: queue.SimpleQueue[_Voice] = queue.SimpleQueue()
        self._voices: list[_Voice] = []
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        with _cli.quiet_stderr():
            self._audio = pyaudio.PyAudio()
            index = self._device_index(device)
            try:
                self._stream = self._audio.open(
                    format=pyaudio.paFloat32,
                    channels=1,
                    rate=sample_rate,
                    output=True,
                    output_device_index=index,
                    frames_per_buffer=block,
                    stream_callback=self._callback,
                    start=False,
                )
            except (OSError, ValueError) as exc:
                self._audio.terminate()
                raise _cli.Unavailable(f"cannot open the audio output: {exc}") from exc
        self._latency_ns = round(self._stream.get_output_latency() * 1e9)
        self._pulling = threading.Event()
        try:
            self._stream.start_stream()
        except OSError as exc:
            self._audio.terminate()
            raise _cli.Unavailable(f"cannot start the audio output: {exc}") from exc
        # An output may take a second or two before it first asks for audio
        # (PulseAudio's ALSA plugin does): wait for it here, not on the first hit.
        if not self._pulling.wait(STARTUP_S):
            self.close()
            raise _cli.Unavailable(f"the audio output asked for no audio in {STARTUP_S:g} s")

    def _device_index(self, wanted: str | None) -> int | None:
        if wanted is None:
            return None
        outputs = []
        for index in range(self._audio.get_device_count()):
            info = self._audio.get_device_info_by_index(index)
            if int(info["maxOutputChannels"]) > 0:
                outputs.append((index, str(info["name"])))
        if wanted.isdigit():
            matches = [i for i, _ in outputs if i == int(wanted)]
        else:
            matches = [i for i, name in outputs if name == wanted] or [
                i for i, name in outputs if wanted.lower() in name.lower()
            ]
        if len(matches) != 1:
            self._audio.terminate()
            names = ", ".join(f"{i}: {name}" for i, name in outputs)
            which = "no" if not matches else "more than one"
            raise _cli.BadConfig(f"--device {wanted!r}: {which} such output (outputs: {names})")
        return matches[0]

    def play(self, path: str, gain: float, hit_ns: int) -> None:
        """Queue ``path`` at ``gain`` (linear) for a hit struck at ``hit_ns``."""
        audio = self._load(path)
        if audio is not None:
            self._incoming.put(_Voice(audio, gain, hit_ns))

    def preload(self, paths: list[str]) -> None:
        """Read these samples now, so that no hit waits on reading one."""
        for path in paths:
            self._load(path)

    def _load(self, path: str) -> np.ndarray | None:
        cached = self._cache.get(path)
        if cached is not None:
            self._cache.move_to_end(path)
            return cached
        import soundfile
        import soxr

        try:
            frames, rate = soundfile.read(path, dtype="float32", always_2d=True)
        except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
            self.playback.unreadable.append(f"{path}: {exc}")
            return None
        mono = frames.mean(axis=1)
        if rate != self.sample_rate:
            mono = soxr.resample(mono, rate, self.sample_rate).astype(np.float32)
        self._cache[path] = mono
        while len(self._cache) > CACHE:
            self._cache.popitem(last=False)
        return mono

    def _callback(self, _data, frames: int, time_info, _status):
        # When this block reaches the converter: PortAudio's time for it where the
        # host API gives one, else the stream's reported output latency from now.
        ahead_s = time_info.get("output_buffer_dac_time", 0.0) - time_info.get("current_time", 0.0)
        ahead_ns = round(ahead_s * 1e9) if 0.0 < ahead_s < 1.0 else self._latency_ns
        at_output = time.time_ns() + ahead_ns
        self._pulling.set()
        while True:
            try:
                voice = self._incoming.get_nowait()
            except queue.Empty:
                break
            if len(self._voices) == VOICES:
                self._voices.pop(0)
                self.playback.cut += 1
            self._voices.append(voice)
            self.playback.played += 1
            self.playback.latencies_ms.append((at_output - voice.hit_ns) / 1e6)
        mix = np.zeros(frames, dtype=np.float32)
        sounding = []
        for voice in self._voices:
            part = voice.audio[voice.position : voice.position + frames]
            mix[: part.size] += voice.gain * part
            voice.position += frames
            if voice.position < voice.audio.size:
                sounding.append(voice)
        self._voices = sounding
        np.clip(mix, -1.0, 1.0, out=mix)
        return mix.tobytes(), self._pyaudio.paContinue

    def drain(self, timeout_s: float = 5.0) -> None:
        """Wait until every queued voice has been started and has finished."""
        deadline = time.monotonic() + timeout_s
        while (not self._incoming.empty() or self._voices) and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self._stream.stop_stream()
        self._stream.close()
        self._audio.terminate()
