"""The learned onset activation: how likely an attack entered the newest frame.

A small causal network (``trainer onsets``) reads the log band energies of the
last ``CONTEXT`` frames of ``onset.Framer``, and a memory of what rang before
them, and gives one value in 0-1 per frame.
The features are computed here, by the one function the trainer calls too, and
the model file carries an ``ActivationContract`` (its own metadata entry, beside
the timbre models' kind) that says which features it was trained on; the daemon
refuses a model whose features it does not compute.

Bands: ``BANDS`` triangular bands on the mel scale from ``FMIN`` to ``FMAX``
(at most the Nyquist frequency), each at least two bins wide, so the
filterbank reads the same at 44.1 and 48 kHz. A band's value is
``log10(EPS + mean weighted magnitude)``: a ratio, so the network sees a hit's
rise the same at -36 dB as at 0 dB, down to its noise floor (-120 dBFS here).

Memory: 64 ms of context cannot tell a cymbal's wash, 300 ms on, from a new
hit. So each band also keeps a decaying maximum of its past values (falling
``DECAY`` per frame, 80 dB a second: SuperFlux's idea, per band), and the
network reads it as it stood before the newest frame, as one more row.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from timbrecast.daemon import bundled, runtime, selftest
from timbrecast.daemon.contract import ModelContractError, SelfTest
from timbrecast.daemon.quiet import quiet_stderr
from timbrecast.daemon.tflitemeta import metadata

#: The metadata entry that holds an onset model's contract.
METADATA_NAME = "timbrecast.onsets"
#: Bumped whenever ``features`` changes what a frame turns into.
FEATURES_VERSION = 2
BANDS = 32
CONTEXT = 16
FMIN = 50.0
FMAX = 16_000.0
EPS = 1e-6
#: How fast the memory falls, in log10 units per frame (0.32 dB every 4 ms).
DECAY = 0.016
#: Rows of a window: the CONTEXT frames, then the memory.
ROWS = CONTEXT + 1
SILENCE = float(np.log10(EPS))


@dataclass(frozen=True)
class ActivationContract:
    """What an onset model reads (``features_version``, ``bands`` per frame, the last
    ``context`` frames of ``frame_s`` every ``hop_s``), and what it was trained on."""

    model_id: str
    features_version: int
    bands: int
    context: int
    frame_s: float
    hop_s: float
    training_data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    self_test: SelfTest | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ActivationContract:
        try:
            body = json.loads(raw)
            body["self_test"] = SelfTest.from_json(body.get("self_test"))
            return cls(**body)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ModelContractError(f"the onset model's contract is malformed ({exc})") from exc

    def check(self, frame_s: float, hop_s: float) -> None:
        """Refuse what ``features`` and ``onset.Framer`` do not compute, naming it."""
        wanted = {
            "features_version": FEATURES_VERSION,
            "bands": BANDS,
            "context": CONTEXT,
            "frame_s": frame_s,
            "hop_s": hop_s,
        }
        problems = [
            f"{k} {getattr(self, k)} (this daemon: {v})"
            for k, v in wanted.items()
            if getattr(self, k) != v
        ]
        if problems:
            raise ModelContractError("onset model cannot be honoured: " + "; ".join(problems))


def filterbank(sample_rate: int, frame: int) -> np.ndarray:
    """(BANDS, frame // 2 + 1) weights, each band's summing to 1. The bands are the
    same in Hz at every rate: above the Nyquist frequency (below 32 kHz) they are
    empty, read as silence."""
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    spacing = sample_rate / frame
    edges = mel_edges(FMIN, FMAX, BANDS)
    bank = np.zeros((BANDS, freqs.size), dtype=np.float32)
    for k in range(BANDS):
        centre = edges[k + 1]
        low = min(edges[k], centre - 2 * spacing)
        high = max(edges[k + 2], centre + 2 * spacing)
        rising = (freqs - low) / (centre - low)
        falling = (high - freqs) / (high - centre)
        bank[k] = np.clip(np.minimum(rising, falling), 0.0, None)
        bank[k] /= max(float(bank[k].sum()), 1e-12)
    return bank


def mel_edges(fmin: float, fmax: float, bands: int) -> np.ndarray:
    """The ``bands + 2`` edges (Hz) of triangular bands evenly spaced on the mel
    scale from ``fmin`` to ``fmax``: band k rises from edge k to k + 1 and falls to
    k + 2. The timbre trainer's log-mel front end uses the same."""
    mel = np.linspace(_mel(fmin), _mel(fmax), bands + 2)
    return 700.0 * (10 ** (mel / 2595.0) - 1.0)


def _mel(hz: float) -> float:
    return 2595.0 * float(np.log10(1.0 + hz / 700.0))


def features(magnitudes: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """(n, bins) frame magnitudes -> (n, BANDS) log band energies, float32."""
    return np.log10(EPS + magnitudes @ bank.T).astype(np.float32)


def remembered(values: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The memory before each of ``values``' (n, BANDS) rows, and after the last,
    from ``state`` (the memory before the first row). One formula for a frame at a
    time and for a whole groove: ``m[t] = max(values[t], m[t-1] - DECAY)`` unrolled
    as a running maximum (for one row, the recurrence itself: the same numbers,
    without the unrolling's arrays)."""
    if len(values) == 1:
        after = np.maximum(values[0], state.astype(np.float64) - DECAY).astype(np.float32)
        return state[None].astype(np.float32), after
    steps = np.arange(len(values), dtype=np.float64)[:, None]
    running = np.maximum.accumulate(values + DECAY * steps, axis=0) - DECAY * steps
    after = np.maximum(running, state - DECAY * (steps + 1)).astype(np.float32)
    before = np.concatenate([state[None].astype(np.float32), after[:-1]])
    return before, after[-1] if len(after) else state


def probes(frame_s: float, hop_s: float, sample_rate: int = 48_000) -> np.ndarray:
    """An onset model's probes: (PROBES, ROWS, BANDS) windows of ``selftest``'s hits,
    framed as ``onset.Framer`` frames them; probe i ends i frames after the first
    frame that holds its attack (i from 0 to 5), so the activations run from an
    attack's peak down its tail."""
    frame, hop = round(frame_s * sample_rate), round(hop_s * sample_rate)
    bank = filterbank(sample_rate, frame)
    window = np.hanning(frame)
    start = CONTEXT * hop + frame
    out = []
    for i in range(selftest.PROBES):
        audio = selftest.hit(i, start + frame + 8 * hop, sample_rate, start)
        frames = np.lib.stride_tricks.sliding_window_view(audio, frame)[::hop]
        magnitudes = np.abs(np.fft.rfft(frames * window)) * (2.0 / window.sum())
        values = features(magnitudes, bank)
        memory, _ = remembered(values, np.full(BANDS, SILENCE, dtype=np.float32))
        newest = (start - frame) // hop + 1 + i
        out.append(np.vstack([values[newest - CONTEXT + 1 : newest + 1], memory[newest]]))
    return np.stack(out).astype(np.float32)


@lru_cache(maxsize=4)
def _load(path: Path) -> tuple[bytes, ActivationContract]:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ModelContractError(f"onset model {path}: cannot read it ({exc.strerror})") from exc
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise ModelContractError(f"onset model {path}: not a TFLite model")
    raw = metadata(content).get(METADATA_NAME)
    if raw is None:
        raise ModelContractError(
            f"onset model {path}: carries no onset contract (train it with `trainer onsets`)"
        )
    return content, ActivationContract.from_json(raw)


def onset_model() -> Path:
    """The bundled onset model."""
    path = bundled.model(bundled.ONSET_MODEL)
    if path is None:
        raise ModelContractError(
            f"the learned onset detector's model {bundled.ONSET_MODEL} is not installed; "
            "use method = flux or reinstall timbrecast"
        )
    return path


@lru_cache(maxsize=4)
def _proven(path: Path) -> selftest.Verdict | None:
    """The model's self-test, once per process and model, on the runtime every
    channel uses; None for a model trained without one."""
    content, contract = _load(path)
    if contract.self_test is None:
        return None
    chosen = runtime.load()
    windows = probes(contract.frame_s, contract.hop_s)
    return selftest.verify(
        contract.self_test,
        lambda xnnpack: selftest.outputs(_interpreter(chosen, content, xnnpack), windows),
        f"onset model {path}",
        chosen.name,
    )


def _interpreter(chosen: runtime.Runtime, content: bytes, xnnpack: bool, channels: int = 1) -> Any:
    """An interpreter that reads ``channels`` windows per call."""
    with quiet_stderr():
        interpreter = chosen.interpreter(content, 1, xnnpack)
        shape = list(interpreter.get_input_details()[0]["shape"])
        if shape != [1, ROWS, BANDS]:
            raise ModelContractError(f"onset model: input shape {shape}, not [1, {ROWS}, {BANDS}]")
        if channels != 1:
            interpreter.resize_tensor_input(
                interpreter.get_input_details()[0]["index"], [channels, ROWS, BANDS]
            )
        interpreter.allocate_tensors()
    return interpreter


class Activation:
    """The activations of a stream's ``channels``, one frame of each at a time: their
    frame contexts and memories, and one interpreter (a TFLite interpreter is not
    shared between threads) that reads all the channels' windows in one call. A
    frame's fixed cost (the call into the runtime, a dozen numpy calls) is most of
    the detector's, so it is paid once per hop, not once per channel. ``verdict`` is
    the model's self-test at load (``selftest``)."""

    def __init__(
        self,
        sample_rate: int,
        frame: int,
        frame_s: float,
        hop_s: float,
        path: Path | None = None,
        channels: int = 1,
    ) -> None:
        path = path or onset_model()
        content, self.contract = _load(path)
        self.contract.check(frame_s, hop_s)
        self.verdict = _proven(path)
        self._bank = filterbank(sample_rate, frame)
        self._window = np.full((channels, ROWS, BANDS), SILENCE, dtype=np.float32)
        self._memory = np.full((channels, BANDS), SILENCE, dtype=np.float32)
        self._falling = np.empty((channels, BANDS), dtype=np.float64)
        self._interpreter = _interpreter(
            runtime.load(), content, self.verdict is None or self.verdict.xnnpack, channels
        )
        # Views of the interpreter's own input and output, fetched anew for each
        # frame (a view must not outlive an invoke), so a frame is written once
        # and read without the checks and copies of set_tensor and get_tensor.
        self._input = self._interpreter.tensor(self._interpreter.get_input_details()[0]["index"])
        self._output = self._interpreter.tensor(self._interpreter.get_output_details()[0]["index"])

    def step(self, magnitudes: np.ndarray) -> list[float]:
        """The next frame's magnitude spectrum of each channel in (``(channels, bins)``),
        their activations out.

        The same numbers as ``features`` and ``remembered`` give for a groove (the
        trainer's path), computed in place: this runs 250 times a second.
        """
        window = self._window
        window[:, : CONTEXT - 1] = window[:, 1:CONTEXT]
        window[:, CONTEXT] = self._memory
        value = window[:, CONTEXT - 1]
        np.log10(EPS + magnitudes @ self._bank.T, out=value)
        np.subtract(self._memory, DECAY, out=self._falling, dtype=np.float64)
        np.maximum(value, self._falling, out=self._falling)
        self._memory[:] = self._falling
        return self.invoke(window)

    def invoke(self, windows: np.ndarray) -> list[float]:
        """The activations of ``(channels, ROWS, BANDS)`` windows (each the frames, then
        the memory)."""
        self._input()[:] = windows
        self._interpreter.invoke()
        return self._output()[:, 0].tolist()
