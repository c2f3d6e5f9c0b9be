"""Augmented copies of real hits: more, and more varied, audio for the teacher to label.

Every augmented clip is labelled by the teacher itself, so an augmentation need
not preserve the descriptors; it only has to sound like a drum someone could
have recorded: repitched, filtered, damped, played softer, recorded late, in a
noisy or reverberant room, or cut short. Each copy is a short chain of such
steps with drawn parameters and a seed, stored in its recipe, so it renders
bit-identically again from the base hit's own recipe.

Copies keep their base's kit: the kit is the unit of the train/validation/test
split, so a copy always lands on its original's side of it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import soxr

from timbrecast.daemon.audiofile import Audio
from timbrecast.trainer.sources import AUGMENTED, Hit

VERSION = 1
MAX_STEPS = 3
#: Where a hit starts, for the steps that act relative to it (as in ``preprocess``).
ONSET_FRACTION = 0.1
#: A slower attack starts its ramp where the hit first reaches -40 dB of its peak.
RISE_FRACTION = 0.01
FADE_S = 0.005
PASS_LIMIT = 0.45


def _sig(x: float) -> float:
    """Four significant digits, so that chains stay short and readable."""
    return float(f"{x:.4g}")


def _log(rng: np.random.Generator, lo: float, hi: float) -> float:
    return _sig(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _uni(rng: np.random.Generator, lo: float, hi: float) -> float:
    return _sig(rng.uniform(lo, hi))


# --- the steps: (frames, channels) float64 in and out ------------------------------


def _onset(x: np.ndarray, fraction: float) -> int:
    """First frame where any channel reaches ``fraction`` of the clip's peak."""
    level = np.abs(x).max(axis=1)
    return int(np.argmax(level >= fraction * level.max()))


def _signal() -> ModuleType:
    """``scipy.signal``, imported when a copy is first rendered: the import takes over
    a second, and every trainer command (``--help`` too) loads this module."""
    from scipy import signal

    return signal


def _filter(x: np.ndarray, sos: np.ndarray) -> np.ndarray:
    return _signal().sosfilt(sos, x, axis=0)


def _pitch(x: np.ndarray, rate: int, rng: np.random.Generator, semitones: float) -> np.ndarray:
    """Play faster or slower, as a tuned or sampler-repitched drum: resample by the ratio."""
    ratio = 2.0 ** (semitones / 12.0)
    return soxr.resample(x, rate, rate / ratio, quality="HQ")


def _lowpass(x: np.ndarray, rate: int, rng: np.random.Generator, cutoff_hz: float) -> np.ndarray:
    if cutoff_hz >= PASS_LIMIT * rate:
        return x
    return _filter(x, _signal().butter(2, cutoff_hz, "lowpass", fs=rate, output="sos"))


def _highpass(x: np.ndarray, rate: int, rng: np.random.Generator, cutoff_hz: float) -> np.ndarray:
    cutoff_hz = min(cutoff_hz, PASS_LIMIT * rate)
    return _filter(x, _signal().butter(2, cutoff_hz, "highpass", fs=rate, output="sos"))


def _peak_eq(
    x: np.ndarray, rate: int, rng: np.random.Generator, freq_hz: float, gain_db: float, q: float
) -> np.ndarray:
    """The RBJ cookbook peaking biquad."""
    gain = 10.0 ** (gain_db / 40.0)
    w0 = 2 * math.pi * min(freq_hz, PASS_LIMIT * rate) / rate
    alpha = math.sin(w0) / (2 * q)
    b = [1 + alpha * gain, -2 * math.cos(w0), 1 - alpha * gain]
    a = [1 + alpha / gain, -2 * math.cos(w0), 1 - alpha / gain]
    return _filter(x, np.array([[*(c / a[0] for c in b), *(c / a[0] for c in a)]]))


def _attack(x: np.ndarray, rate: int, rng: np.random.Generator, rise_s: float) -> np.ndarray:
    """A softer stroke: a raised-cosine fade-in from where the hit begins."""
    start = _onset(x, RISE_FRACTION)
    ramp = np.sin(0.5 * np.pi * np.arange(max(1, round(rise_s * rate))) / (rise_s * rate)) ** 2
    env = np.ones(x.shape[0])
    env[:start] = 0.0
    env[start : start + ramp.size] = ramp[: x.shape[0] - start]
    return x * env[:, None]


def _decay(x: np.ndarray, rate: int, rng: np.random.Generator, t60_s: float) -> np.ndarray:
    """A damped drum: an exponential fade of the given T60 from the onset on."""
    start = _onset(x, ONSET_FRACTION)
    t = np.maximum(np.arange(x.shape[0]) - start, 0) / rate
    return x * np.exp(t * (-math.log(1000.0) / t60_s))[:, None]


def _reverb(
    x: np.ndarray,
    rate: int,
    rng: np.random.Generator,
    rt60_s: float,
    mix: float,
    predelay_s: float,
    damping_hz: float,
) -> np.ndarray:
    """A small room: convolution with exponentially decaying, low-passed noise.

    One independent response per channel, as a stereo room decorrelates; each has
    unit energy so that ``mix`` is a wet/dry energy balance.
    """
    t = np.arange(math.ceil(1.2 * rt60_s * rate)) / rate
    envelope = np.exp(t * (-math.log(1000.0) / rt60_s))
    tail = rng.standard_normal((t.size, x.shape[1])) * envelope[:, None]
    if damping_hz < PASS_LIMIT * rate:
        tail = _filter(tail, _signal().butter(1, damping_hz, "lowpass", fs=rate, output="sos"))
    response = np.concatenate([np.zeros((round(predelay_s * rate), x.shape[1])), tail])
    response /= np.sqrt(np.sum(response**2, axis=0, keepdims=True))
    wet = _signal().fftconvolve(x, response, axes=0)
    dry = np.zeros_like(wet)
    dry[: x.shape[0]] = x
    return (1 - mix) * dry + mix * wet


def _truncate(x: np.ndarray, rate: int, rng: np.random.Generator, at_s: float) -> np.ndarray:
    """Cut ``at_s`` after the onset with a short raised-cosine fade, as a choked sample."""
    end = _onset(x, ONSET_FRACTION) + round(at_s * rate)
    if end >= x.shape[0]:
        return x
    cut = x[:end].copy()
    fade = min(end, round(FADE_S * rate))
    cut[end - fade :] *= (np.cos(0.5 * np.pi * np.arange(1, fade + 1) / fade) ** 2)[:, None]
    return cut


def _offset(
    x: np.ndarray, rate: int, rng: np.random.Generator, delay_s: float, lead_db: float | None
) -> np.ndarray:
    """A late start: leading silence, or a low noise floor, before the hit."""
    lead = np.zeros((round(delay_s * rate), x.shape[1]))
    if lead_db is not None:
        lead = rng.standard_normal(lead.shape) * (np.abs(x).max() * 10.0 ** (lead_db / 20.0))
    return np.concatenate([lead, x])


def _noise(x: np.ndarray, rate: int, rng: np.random.Generator, level_db: float) -> np.ndarray:
    """A recording's noise floor, in dB below the clip's peak (the level the model
    sees, since ``prepare`` peak-normalises)."""
    rms = np.abs(x).max() * 10.0 ** (level_db / 20.0)
    return x + rng.standard_normal(x.shape) * rms


@dataclass(frozen=True)
class _Step:
    """A step's parameter draw (over ranges that still sound like a real recording)
    and its action, ``run(x, rate, rng, **params)`` on (frames, channels) float64
    audio; every step takes the generator, so one call form serves them all."""

    draw: Callable[[np.random.Generator], dict]
    run: Callable[..., np.ndarray]


#: The steps, in the order a chain applies them: the source is changed first
#: (pitch, tone, envelope), then the room, then the recording (cut, late start,
#: noise floor), as they would happen.
_STEPS: dict[str, _Step] = {
    "pitch": _Step(lambda rng: {"semitones": _uni(rng, -7.0, 7.0)}, _pitch),
    "lowpass": _Step(lambda rng: {"cutoff_hz": _log(rng, 800.0, 12000.0)}, _lowpass),
    "highpass": _Step(lambda rng: {"cutoff_hz": _log(rng, 40.0, 600.0)}, _highpass),
    "peak_eq": _Step(
        lambda rng: {
            "freq_hz": _log(rng, 80.0, 8000.0),
            "gain_db": _uni(rng, -12.0, 12.0),
            "q": _log(rng, 0.5, 4.0),
        },
        _peak_eq,
    ),
    "attack": _Step(lambda rng: {"rise_s": _log(rng, 0.002, 0.03)}, _attack),
    "decay": _Step(lambda rng: {"t60_s": _log(rng, 0.05, 1.0)}, _decay),
    "reverb": _Step(
        lambda rng: {
            "rt60_s": _log(rng, 0.1, 0.8),
            "mix": _uni(rng, 0.1, 0.5),
            "predelay_s": _uni(rng, 0.0, 0.01),
            "damping_hz": _log(rng, 2000.0, 12000.0),
        },
        _reverb,
    ),
    "truncate": _Step(lambda rng: {"at_s": _log(rng, 0.08, 0.8)}, _truncate),
    "offset": _Step(
        lambda rng: {
            "delay_s": _uni(rng, 0.0, 0.015),
            "lead_db": _uni(rng, -90.0, -60.0) if rng.random() < 0.5 else None,
        },
        _offset,
    ),
    "noise": _Step(lambda rng: {"level_db": _uni(rng, -70.0, -40.0)}, _noise),
}
STEPS: tuple[str, ...] = tuple(_STEPS)


def random_chain(rng: np.random.Generator) -> list[dict]:
    """One to ``MAX_STEPS`` distinct steps with drawn parameters, in ``STEPS`` order."""
    count = int(rng.integers(1, MAX_STEPS + 1))
    picked = sorted(rng.choice(len(STEPS), size=count, replace=False))
    return [{"step": STEPS[i]} | _STEPS[STEPS[i]].draw(rng) for i in picked]


def apply(frames: np.ndarray, sample_rate: int, chain: list[dict], seed: int) -> np.ndarray:
    """``frames`` through the chain: same layout ((n,) or (n, ch)), float32, peak <= 1.

    Step ``i`` draws its noise from a generator seeded by (seed, i) alone, so the
    same chain and seed give bit-identical audio. A clip whose peak exceeds full
    scale is scaled down as a whole, never clipped.
    """
    samples = np.asarray(frames, dtype=np.float64)
    if samples.ndim not in (1, 2) or samples.shape[0] == 0:
        raise ValueError(f"expected non-empty (frames,) or (frames, channels), got {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("audio contains NaN or infinite samples")
    x = samples.reshape(samples.shape[0], -1)
    channels = x.shape[1]
    for i, step in enumerate(chain):
        name = step["step"]
        if name not in _STEPS:
            raise ValueError(f"unknown augmentation step {name!r}; expected one of {STEPS}")
        params = {key: value for key, value in step.items() if key != "step"}
        x = _STEPS[name].run(x, sample_rate, np.random.default_rng([seed, i]), **params)
        if x.shape[0] == 0:
            x = np.zeros((1, channels))
    peak = float(np.abs(x).max())
    if peak > 1.0:
        x = x / peak
    out = np.clip(x, -1.0, 1.0).astype(np.float32)
    return out[:, 0] if samples.ndim == 1 else out


# --- the source ------------------------------------------------------------------


def _copy_seed(base: Hit, seed: int, copy: int) -> int:
    """A seed from the base's identity, not its position, so adding or reordering
    base hits never changes (and never re-labels) the other hits' copies."""
    key = f"{seed}|{copy}|{base.source}|{base.recipe}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:6], "big")


def augmented_hits(base: list[Hit], copies: int, seed: int) -> list[Hit]:
    """``copies`` augmented hits per base hit, in the base's kit and class."""
    result = []
    for hit in base:
        for copy in range(copies):
            copy_seed = _copy_seed(hit, seed, copy)
            chain = random_chain(np.random.default_rng(copy_seed))
            recipe = Hit.make_recipe(
                base=hit.recipe,
                base_source=hit.source,
                chain=chain,
                seed=copy_seed,
                version=VERSION,
            )
            result.append(
                Hit(
                    source=hit.source + AUGMENTED,
                    kit=hit.kit,
                    instrument=hit.instrument,
                    instrument_class=hit.instrument_class,
                    recipe=recipe,
                )
            )
    return result


def base_hit(hit: Hit) -> Hit:
    """The hit an augmented hit was made from."""
    fields = hit.recipe_fields()
    return Hit(
        source=fields["base_source"],
        kit=hit.kit,
        instrument=hit.instrument,
        instrument_class=hit.instrument_class,
        recipe=fields["base"],
    )


def render_augmented(hit: Hit, render_base: Callable[[Hit], Audio]) -> Audio:
    """The base rendered by its own source's ``render_base``, then the chain applied."""
    fields = hit.recipe_fields()
    if fields.get("version") != VERSION:
        raise ValueError(
            f"{hit.instrument}: augmentation version {fields.get('version')} is not {VERSION}"
        )
    audio = render_base(base_hit(hit))
    frames = apply(audio.frames, audio.sample_rate, fields["chain"], fields["seed"])
    return Audio(frames=frames, sample_rate=audio.sample_rate)
