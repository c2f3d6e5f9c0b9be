"""A model proves itself at load: it must give, here, what it gave its exporter.

Why: a runtime kernel that misbehaves on some CPU would make the daemon publish
garbage without noticing: under qemu's default arm64 CPU model (which has the SME
matrix extension), XNNPACK's int8 kernels gave the timbre model's outputs off by
up to 86 points. So ``trainer export`` runs a few synthetic probe inputs through
the finished model with the runtime's reference kernels and stores what came out
(a ``SelfTest`` in the model's contract); the daemon runs the same probes when it
loads the model and compares. Off by more than the tolerance, it tries again
without XNNPACK (the default delegate), and refuses the model if still wrong.

The probes are made here from a formula, not stored: a few hundred bytes in the
file instead of the inputs themselves. The formula uses integer hashing and
float64 arithmetic only, so it gives the same inputs on every CPU (up to the
last bits of a vectorised sin or exp, far below any tolerance); it is
versioned (``PROBE_VERSION``), and a model whose probes this code does not make
is refused, as any other contract it cannot honour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from timbrecast.daemon import runtime
from timbrecast.daemon.contract import PREROLL_S, SAMPLE_RATE, ModelContractError, SelfTest

#: Bumped whenever ``hit`` changes what it makes: ``SelfTest.probes`` of a model.
PROBE_VERSION = 1
#: Probes per model: a kick, a tom, a hat, a snare, and two mixes.
PROBES = 6
#: How far (in the model's output units, 0-1 here) a runtime may land from the
#: exporter's outputs. XNNPACK and the builtin kernels differ by one int8 step of
#: the output (0.004); the misbehaving kernel above was off by more than 1.
TOLERANCE = 0.02


@dataclass(frozen=True)
class Verdict:
    """How a model did at load: ``error`` is the largest difference from the
    expected outputs; ``xnnpack`` whether the interpreters kept the default delegate
    (False when it had to be turned off, then ``error_with_xnnpack`` says why)."""

    error: float
    tolerance: float
    xnnpack: bool
    error_with_xnnpack: float | None = None

    def describe(self) -> str:
        if self.xnnpack:
            return f"self-test passed (error {self.error:.3g}, tolerance {self.tolerance:g})"
        return (
            f"self-test passed only with XNNPACK off (error {self.error:.3g}; with it "
            f"{self.error_with_xnnpack:.3g}, tolerance {self.tolerance:g}): slower"
        )


def described(verdict: Verdict | None) -> str:
    """What ``check`` says of a model's self-test."""
    if verdict is None:
        return "no self-test embedded (exported before them: `trainer selftest MODEL` adds one)"
    return verdict.describe()


def hit(index: int, length: int, sample_rate: int, start: int) -> np.ndarray:
    """Probe ``index``: a synthetic hit of ``length`` samples, silent before ``start``,
    peak 0.99. Probe 0 is a kick (a falling sine), 1 a tom, 2 a hat (bright noise),
    3 a snare (tone and noise); higher indices mix two of them, so every probe lights
    up a different part of the model."""
    if index >= 4:
        mix = hit(index % 4, length, sample_rate, start) + 0.7 * hit(
            (index + 1) % 4, length, sample_rate, start
        )
        return (0.99 * mix / np.abs(mix).max()).astype(np.float32)
    t = np.arange(length - start, dtype=np.float64) / sample_rate
    tone_hz, tone_decay, noise_decay, noise_gain = (
        (55.0, 0.25, 0.01, 0.2),
        (140.0, 0.15, 0.02, 0.3),
        (0.0, 1.0, 0.05, 1.0),
        (190.0, 0.06, 0.12, 0.8),
    )[index]
    sweep = tone_hz * (1.0 + 2.0 * np.exp(-t / 0.02))
    tone = np.sin(2 * np.pi * np.cumsum(sweep) / sample_rate) * np.exp(-t / tone_decay)
    tone *= tone_hz > 0
    noise = _noise(t.size, index) * np.exp(-t / noise_decay) * noise_gain
    if index == 2:
        noise = np.diff(noise, prepend=0.0)
    sound = tone + noise
    out = np.zeros(length, dtype=np.float64)
    out[start:] = 0.99 * sound / np.abs(sound).max()
    return out.astype(np.float32)


def clips(input_length: int) -> np.ndarray:
    """A timbre model's probes: (PROBES, input_length) hits placed as ``prepare``
    places an attack."""
    start = round(PREROLL_S * SAMPLE_RATE)
    return np.stack([hit(i, input_length, SAMPLE_RATE, start) for i in range(PROBES)])


def _noise(n: int, seed: int) -> np.ndarray:
    """Uniform noise in [-1, 1) from an integer hash (splitmix64): the same numbers
    on every CPU and every numpy, unlike a generator whose streams may change."""
    with np.errstate(over="ignore"):
        z = np.arange(n, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15) * np.uint64(seed + 1)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 52) - 1.0


def outputs(interpreter: Any, probes: np.ndarray) -> np.ndarray:
    """An allocated interpreter's outputs for each probe, one row each."""
    return np.stack([runtime.invoke(interpreter, probe).ravel() for probe in probes])


def expect(content: bytes, probes: np.ndarray, tolerance: float = TOLERANCE) -> SelfTest:
    """The self-test an exporter stores: what the installed runtime's builtin
    kernels (no delegate) give for ``probes``; for a model whose activations are
    float (no QUANTIZE op), once XNNPACK has given the same.

    Why both: expectations from a wrong kernel would let a load pass on garbage
    (XNNPACK off, wrong kernel and expectations agreeing). ai-edge-litert 2.3.0's
    builtin hybrid FULLY_CONNECTED on x86 was off by up to 12 on a dynamic-range
    net whose dense layer reads 18,662 inputs, where XNNPACK matched the float model.
    Not for int8 activations: there the two paths round apart, one step per layer,
    which a poorly calibrated model carries past the tolerance (0.08 seen) without
    either being wrong; the load-time fallback is for that."""
    interpreter = runtime.load().interpreter(content, xnnpack=False)
    interpreter.allocate_tensors()
    rows = outputs(interpreter, probes)
    ops = getattr(interpreter, "_get_ops_details", list)()
    if any(op["op_name"] == "QUANTIZE" for op in ops):
        return _stored(rows, tolerance)
    try:
        delegated = runtime.load().interpreter(content)
        delegated.allocate_tensors()
        other = outputs(delegated, probes)
    except (RuntimeError, ValueError):
        other = rows
    gap = float(np.abs(other - rows).max())
    if gap > TOLERANCE:
        raise ModelContractError(
            f"the runtime's builtin kernels and XNNPACK disagree on this model by {gap:.3g} "
            f"(tolerance {TOLERANCE:g}): one computes it wrongly here, so no self-test can "
            "be trusted; export it with another --quantize"
        )
    return _stored(rows, tolerance)


def _stored(rows: np.ndarray, tolerance: float) -> SelfTest:
    return SelfTest(
        expected=tuple(tuple(round(float(v), 6) for v in row) for row in rows),
        tolerance=tolerance,
        probes=PROBE_VERSION,
    )


def error(test: SelfTest, rows: np.ndarray) -> float:
    """The largest difference between ``rows`` and what the exporter saw: row i is
    probe ``i % PROBES``'s output (a caller may run the probes through more than one
    interpreter)."""
    expected = np.asarray(test.expected, dtype=np.float64)
    if rows.ndim != 2 or not len(rows) or rows.shape[1] != expected.shape[1]:
        return float("inf")
    return float(np.abs(rows - expected[np.arange(len(rows)) % len(expected)]).max())


def verify(
    test: SelfTest, measure: Callable[[bool], np.ndarray], what: str, runtime_name: str
) -> Verdict:
    """``measure(xnnpack)`` builds the model's interpreters with or without XNNPACK
    and gives their outputs for the probes; first with it, then, if those are off
    (or it cannot be built), without: a ``Verdict``, or a ``ModelContractError``
    naming both errors."""
    if test.probes != PROBE_VERSION:
        raise ModelContractError(
            f"{what} cannot be honoured: self-test probes v{test.probes} "
            f"(this daemon makes v{PROBE_VERSION})"
        )
    first = _attempt(test, measure, True)
    if first <= test.tolerance:
        return Verdict(first, test.tolerance, xnnpack=True)
    second = _attempt(test, measure, False)
    if second <= test.tolerance:
        return Verdict(second, test.tolerance, xnnpack=False, error_with_xnnpack=first)
    raise ModelContractError(
        f"{what} fails its self-test on {runtime_name}: outputs off by {first:.3g} with "
        f"XNNPACK and {second:.3g} without (tolerance {test.tolerance:g}); this CPU or "
        "runtime computes the model wrongly"
    )


def _attempt(test: SelfTest, measure: Callable[[bool], np.ndarray], xnnpack: bool) -> float:
    """The error of one try; a runtime that cannot build or run the model that way
    counts as infinitely wrong (the other way may still work)."""
    try:
        return error(test, measure(xnnpack))
    except ModelContractError:
        raise
    except (RuntimeError, ValueError):
        return float("inf")
