"""Synthetic drum one-shots with wide random parameters.

The Debian kits are mostly "acoustic kit, recorded well", so the descriptors they
span leave gaps: very soft or very hard attacks, sub-heavy booms, thin ticks,
harsh distorted or clangorous hits. This generator fills them with classic
analogue-style synthesis. Every kind is the same voice of four parts, mixed in
the kind's own proportions and ranges:

* body: a sine/triangle oscillator with a pitch drop, membrane overtones, an
  optional detuned twin (beating) and FM (kicks, toms, snares, rims);
* noise: band-passed noise, optionally as several bursts (snare wires, claps);
* metal: inharmonic square partials through a band-pass (808 cowbell, hats,
  cymbals);
* click: a very short high-passed noise tick (beater or stick contact);

then ring modulation, tanh drive, a high-pass (thin), a low-pass (dark) and the
attack. A recipe is the kind plus its params; all noise is drawn from generators
seeded by ``params["seed"]``, so the same params render the same samples.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timbrecast.daemon.audiofile import Audio
from timbrecast.trainer.sources import SYNTHETIC, Hit

#: What the generator makes, and the coarse class each belongs to.
CLASS_OF: dict[str, str] = {
    "kick": "kick",
    "snare": "snare",
    "tom": "tom",
    "hihat_closed": "hihat",
    "hihat_open": "hihat",
    "clap": "clap",
    "rim": "rim",
    "cowbell": "cowbell",
    "cymbal": "cymbal",
    "noise": "noise",
}
KINDS: tuple[str, ...] = tuple(CLASS_OF)

SOURCE = SYNTHETIC
SAMPLE_RATE = 44_100
#: Hits per kit; the kit is the unit of the train/validation/test split.
KIT_SIZE = 50
#: Bumped when rendering changes, so stored recipes of another version are not trusted.
VERSION = 1
#: The renderer's output peak, below full scale so that sums of hits rarely clip.
PEAK = 0.9
MAX_S = 2.0
#: A decay time is T60; a part is rendered until -72 dB.
SPAN_PER_T60 = 1.2
END_FADE_S = 0.005
#: Ratios of the 808 cymbal's six square oscillators (205.3 Hz .. 800 Hz); the
#: first two are also its cowbell's (540 and 800 Hz).
METAL_RATIOS = np.array([1.0, 1.4827, 1.8003, 2.5460, 2.6303, 3.8968])
#: Overtones of an ideal circular membrane, relative to its fundamental.
MEMBRANE_RATIOS = np.array([1.593, 2.135, 2.295, 2.653, 2.917])
SNAP_TAU_S = 0.012
LN_1000 = math.log(1000.0)


@dataclass(frozen=True)
class Voice:
    """Every parameter of the synthesis voice; a part with level 0 is not rendered.

    Times are seconds (decays are T60), frequencies Hz; a filter edge of 0 means
    no filter. A kind's params name only the fields it sets.
    """

    seed: int
    attack_s: float = 0.0
    drive: float = 0.0
    ring_hz: float = 0.0
    ring_mix: float = 0.0
    thin_hz: float = 0.0
    tone_hz: float = 0.0
    body_level: float = 0.0
    body_hz: float = 100.0
    body_sweep: float = 0.0
    body_sweep_s: float = 0.01
    body_decay_s: float = 0.3
    body_tri: float = 0.0
    body_modes: float = 0.0
    beat_hz: float = 0.0
    beat_level: float = 0.0
    fm_ratio: float = 1.0
    fm_index: float = 0.0
    noise_level: float = 0.0
    noise_lo_hz: float = 0.0
    noise_hi_hz: float = 0.0
    noise_decay_s: float = 0.2
    bursts: int = 1
    burst_gap_s: float = 0.01
    metal_level: float = 0.0
    metal_hz: float = 400.0
    metal_count: int = 6
    metal_spread: float = 1.0
    metal_square: float = 1.0
    metal_lo_hz: float = 0.0
    metal_hi_hz: float = 0.0
    metal_decay_s: float = 0.3
    metal_snap: float = 0.0
    click_level: float = 0.0
    click_hz: float = 2000.0
    click_s: float = 0.002

    def length_s(self) -> float:
        """Until the longest part has faded to -72 dB, capped at ``MAX_S``."""
        parts = [0.0]
        if self.body_level > 0:
            parts.append(self.body_decay_s)
        if self.noise_level > 0:
            parts.append((self.bursts - 1) * self.burst_gap_s * 1.3 + self.noise_decay_s)
        if self.metal_level > 0:
            parts.append(self.metal_decay_s)
        if self.click_level > 0:
            parts.append(self.click_s)
        return min(MAX_S, self.attack_s + SPAN_PER_T60 * max(parts) + END_FADE_S)


# --- rendering -------------------------------------------------------------------


def _span(seconds: float, limit: int, sample_rate: int) -> int:
    return min(limit, math.ceil(SPAN_PER_T60 * seconds * sample_rate) + 1)


def _decay(t: np.ndarray, t60: float) -> np.ndarray:
    return np.exp(t * (-LN_1000 / t60))


def _osc(cycles: np.ndarray, triangle: float) -> np.ndarray:
    """A sine (0) to triangle (1) blend at the given phase in cycles."""
    wave = np.zeros_like(cycles)
    if triangle < 1:
        wave += (1 - triangle) * np.sin(2 * np.pi * cycles)
    if triangle > 0:
        wave += triangle * (1 - 4 * np.abs((cycles + 0.25) % 1.0 - 0.5))
    return wave


@functools.lru_cache(maxsize=4096)
def _sos(kind: str, edges: tuple[float, ...], sample_rate: int, order: int) -> np.ndarray:
    """Butterworth sections; cached, as groove and corpus runs reuse few designs.

    ``scipy.signal`` is imported here, not at the top: the import takes over a second,
    and every trainer command loads this module through the corpus."""
    from scipy import signal

    edge = edges if len(edges) > 1 else edges[0]
    return signal.butter(order, edge, kind, fs=sample_rate, output="sos")


def _band(x: np.ndarray, lo: float, hi: float, sample_rate: int, order: int = 2) -> np.ndarray:
    """Band-pass between ``lo`` and ``hi``; an edge of 0 or above 0.45 fs is open."""
    nyquist_limit = 0.45 * sample_rate
    lo = min(lo, 0.4 * sample_rate)
    has_lo = lo > 0
    has_hi = 0 < hi < nyquist_limit and (not has_lo or hi > 1.05 * lo)
    if has_lo and has_hi:
        sos = _sos("bandpass", (lo, hi), sample_rate, order)
    elif has_lo:
        sos = _sos("highpass", (lo,), sample_rate, order)
    elif has_hi:
        sos = _sos("lowpass", (hi,), sample_rate, order)
    else:
        return x
    from scipy.signal import sosfilt

    return sosfilt(sos, x)


def _body(v: Voice, t: np.ndarray, sample_rate: int) -> np.ndarray:
    """The pitched shell: f(t) = f0 (1 + sweep e^(-t/tau)), integrated to a phase."""
    t = t[: _span(v.body_decay_s, t.size, sample_rate)]
    env = _decay(t, v.body_decay_s)
    cycles = v.body_hz * (t + v.body_sweep * v.body_sweep_s * -np.expm1(-t / v.body_sweep_s))
    if v.fm_index > 0:
        modulator = np.sin(2 * np.pi * v.fm_ratio * v.body_hz * t)
        cycles = cycles + (v.fm_index / (2 * np.pi)) * modulator * env
    wave = _osc(cycles, v.body_tri)
    if v.beat_level > 0:
        wave += v.beat_level * _osc(cycles * (1 + v.beat_hz / v.body_hz), v.body_tri)
    top = v.body_hz * (1 + v.body_sweep)
    for k, ratio in enumerate(MEMBRANE_RATIOS):
        if v.body_modes <= 0 or top * ratio > 0.45 * sample_rate:
            break
        mode_env = _decay(t, v.body_decay_s / (1 + 0.8 * (k + 1)))
        wave += (v.body_modes * 0.6**k) * np.sin(2 * np.pi * ratio * cycles) * mode_env
    return wave * env


def _noise(v: Voice, t: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Filtered noise, as one burst or as a clap's bursts then a tail.

    The noise is filtered before the envelope so each burst keeps its sharp edge.
    """
    gaps = v.burst_gap_s * rng.uniform(0.7, 1.3, size=v.bursts - 1)
    starts = np.concatenate([[0.0], np.cumsum(gaps)])
    t = t[: _span(starts[-1] + v.noise_decay_s, t.size, sample_rate)]
    noise = _band(rng.standard_normal(t.size), v.noise_lo_hz, v.noise_hi_hz, sample_rate)
    noise *= 0.3 / max(float(np.std(noise)), 1e-12)
    env = np.zeros_like(t)
    for start in starts[:-1]:
        after = t >= start
        env[after] = np.maximum(env[after], np.exp((start - t[after]) / (v.burst_gap_s / 4)))
    last = t >= starts[-1]
    env[last] = np.maximum(env[last], _decay(t[last] - starts[-1], v.noise_decay_s))
    return noise * env


def _metal(v: Voice, t: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Free-running square (to triangle) partials at inharmonic ratios, band-passed.

    Both waves come from the half-cycle count k and the position r within it
    (square = +-1 by the parity of k, triangle = square * (2r - 1)): integer
    arithmetic, several times faster than a modulo and a sine per partial.
    """
    t = t[: _span(v.metal_decay_s, t.size, sample_rate)]
    freqs = v.metal_hz * METAL_RATIOS[: v.metal_count] ** v.metal_spread
    halves = np.outer(2 * freqs, t) + rng.uniform(0.0, 2.0, size=(freqs.size, 1))
    count = halves.astype(np.int64)
    square = 1.0 - 2.0 * (count & 1)
    if v.metal_square < 1:
        square *= v.metal_square + (1 - v.metal_square) * (2 * (halves - count) - 1)
    wave = _band(square.sum(axis=0) / freqs.size, v.metal_lo_hz, v.metal_hi_hz, sample_rate)
    env = _decay(t, v.metal_decay_s) * (1 - v.metal_snap + v.metal_snap * np.exp(-t / SNAP_TAU_S))
    return wave * env


def _click(v: Voice, t: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    t = t[: _span(v.click_s, t.size, sample_rate)]
    tick = _band(rng.standard_normal(t.size), v.click_hz, 0.0, sample_rate, order=1)
    tick *= _decay(t, v.click_s)
    return tick / max(float(np.abs(tick).max()), 1e-12)


def _add(out: np.ndarray, part: np.ndarray, level: float) -> None:
    out[: part.size] += level * part


def render_voice(v: Voice, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The voice as float32 mono, starting on its attack, peak ``PEAK``."""
    n = max(2, math.ceil(v.length_s() * sample_rate))
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    if v.body_level > 0:
        _add(out, _body(v, t, sample_rate), v.body_level)
    if v.noise_level > 0:
        _add(out, _noise(v, t, sample_rate, np.random.default_rng([v.seed, 1])), v.noise_level)
    if v.metal_level > 0:
        _add(out, _metal(v, t, sample_rate, np.random.default_rng([v.seed, 2])), v.metal_level)
    if v.click_level > 0:
        _add(out, _click(v, t, sample_rate, np.random.default_rng([v.seed, 3])), v.click_level)
    if v.ring_mix > 0:
        out *= 1 - v.ring_mix + v.ring_mix * np.sin(2 * np.pi * v.ring_hz * t)
    peak = float(np.abs(out).max())
    if not math.isfinite(peak) or peak == 0:
        raise ValueError(f"voice renders silence or non-finite audio: {v}")
    if v.drive > 0:
        gain = 1 + 24 * v.drive**2
        out = np.tanh(out * (gain / peak)) / math.tanh(gain)
    out = _band(out, v.thin_hz, v.tone_hz, sample_rate)
    rise = min(n, round(v.attack_s * sample_rate))
    out[:rise] *= np.sin(0.5 * np.pi * np.arange(rise) / rise) ** 2
    fade = min(n, max(1, round(END_FADE_S * sample_rate)))
    out[n - fade :] *= np.linspace(1.0, 0.0, fade)
    return (out * (PEAK / float(np.abs(out).max()))).astype(np.float32)


def render(kind: str, params: dict, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One hit of ``kind``; the kind only chose the ranges, the params are the sound."""
    if kind not in CLASS_OF:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return render_voice(Voice(**params), sample_rate)


# --- random parameters ---------------------------------------------------------


class _Draw:
    """Parameter draws rounded to 4 significant digits, so recipes stay short."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def uni(self, lo: float, hi: float) -> float:
        return float(f"{self.rng.uniform(lo, hi):.4g}")

    def log(self, lo: float, hi: float) -> float:
        return float(f"{math.exp(self.rng.uniform(math.log(lo), math.log(hi))):.4g}")

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def count(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))


def _pitch_extras(d: _Draw, beat: float, fm: float) -> dict:
    """Beating (a detuned twin) and FM: the roughness the real kits rarely have."""
    extras: dict = {}
    if d.chance(beat):
        extras.update(beat_hz=d.log(2.0, 80.0), beat_level=d.uni(0.2, 1.0))
    if d.chance(fm):
        extras.update(fm_ratio=d.uni(0.5, 3.7), fm_index=d.log(0.3, 8.0))
    return extras


def _click_part(d: _Draw, p: float, lo_hz: float = 800.0) -> dict:
    if not d.chance(p):
        return {}
    return {
        "click_level": d.log(0.05, 1.0),
        "click_hz": d.log(lo_hz, 9000.0),
        "click_s": d.log(0.0005, 0.006),
    }


def _kick(d: _Draw) -> dict:
    p = {
        "body_level": 1.0,
        "body_hz": d.log(30.0, 110.0),
        "body_sweep": 0.0 if d.chance(0.1) else d.log(0.3, 12.0),
        "body_sweep_s": d.log(0.003, 0.08),
        "body_decay_s": d.log(0.08, 1.5),
        "body_tri": d.uni(0.0, 0.7) if d.chance(0.3) else 0.0,
        "body_modes": d.uni(0.0, 0.3) if d.chance(0.2) else 0.0,
    }
    if d.chance(0.5):
        p.update(
            noise_level=d.log(0.02, 0.5),
            noise_lo_hz=d.log(80.0, 1500.0),
            noise_hi_hz=d.log(2000.0, 16000.0),
            noise_decay_s=d.log(0.02, 0.2),
        )
    return p | _pitch_extras(d, beat=0.2, fm=0.15) | _click_part(d, 0.6)


def _snare(d: _Draw) -> dict:
    lo = d.log(150.0, 3000.0)
    p = {
        "body_level": d.uni(0.3, 1.0),
        "body_hz": d.log(140.0, 350.0),
        "body_sweep": 0.0 if d.chance(0.3) else d.log(0.05, 1.5),
        "body_sweep_s": d.log(0.005, 0.04),
        "body_decay_s": d.log(0.05, 0.5),
        "body_tri": d.uni(0.0, 0.5),
        "body_modes": d.uni(0.1, 0.8),
        "noise_level": d.log(0.3, 2.0),
        "noise_lo_hz": lo,
        "noise_hi_hz": 0.0 if d.chance(0.3) else d.log(max(4000.0, 1.5 * lo), 18000.0),
        "noise_decay_s": d.log(0.06, 0.8),
    }
    if d.chance(0.1):
        p.update(metal_level=d.log(0.05, 0.4), metal_hz=d.log(300.0, 900.0), metal_lo_hz=2000.0)
    return p | _pitch_extras(d, beat=0.15, fm=0.15) | _click_part(d, 0.5)


def _tom(d: _Draw) -> dict:
    p = {
        "body_level": 1.0,
        "body_hz": d.log(60.0, 420.0),
        "body_sweep": d.log(0.05, 1.0) if d.chance(0.7) else 0.0,
        "body_sweep_s": d.log(0.01, 0.15),
        "body_decay_s": d.log(0.12, 1.5),
        "body_tri": d.uni(0.0, 0.5) if d.chance(0.3) else 0.0,
        "body_modes": d.uni(0.0, 0.7),
    }
    if d.chance(0.5):
        p.update(
            noise_level=d.log(0.02, 0.3),
            noise_lo_hz=d.log(200.0, 3000.0),
            noise_decay_s=d.log(0.02, 0.2),
        )
    return p | _pitch_extras(d, beat=0.25, fm=0.15) | _click_part(d, 0.5)


def _hihat(d: _Draw, decay: tuple[float, float]) -> dict:
    lo = d.log(2500.0, 10000.0)
    p = {
        "metal_level": 1.0,
        "metal_hz": d.log(180.0, 650.0),
        "metal_count": d.count(4, 6),
        "metal_spread": d.uni(0.8, 1.25),
        "metal_square": d.uni(0.6, 1.0),
        "metal_lo_hz": lo,
        "metal_hi_hz": 0.0 if d.chance(0.5) else d.log(max(8000.0, 1.3 * lo), 19000.0),
        "metal_decay_s": d.log(*decay),
        "metal_snap": d.uni(0.0, 0.6),
    }
    if d.chance(0.7):
        p.update(
            noise_level=d.log(0.05, 1.0),
            noise_lo_hz=d.log(3000.0, 11000.0),
            noise_decay_s=p["metal_decay_s"] * d.uni(0.5, 1.2),
        )
    return p | _click_part(d, 0.3, lo_hz=3000.0)


def _clap(d: _Draw) -> dict:
    lo = d.log(400.0, 1800.0)
    return {
        "noise_level": 1.0,
        "noise_lo_hz": lo,
        "noise_hi_hz": d.log(1.3 * lo, 7000.0),
        "noise_decay_s": d.log(0.08, 0.8),
        "bursts": d.count(2, 5),
        "burst_gap_s": d.log(0.004, 0.018),
    }


def _rim(d: _Draw) -> dict:
    p = {
        "body_level": 1.0,
        "body_hz": d.log(350.0, 2000.0),
        "body_sweep": d.log(0.02, 0.5) if d.chance(0.3) else 0.0,
        "body_sweep_s": d.log(0.002, 0.02),
        "body_decay_s": d.log(0.02, 0.15),
        "body_tri": d.uni(0.3, 1.0),
        "body_modes": d.uni(0.2, 0.8),
        "noise_level": d.log(0.05, 0.5),
        "noise_lo_hz": d.log(1000.0, 5000.0),
        "noise_decay_s": d.log(0.01, 0.06),
    }
    if d.chance(0.3):
        p.update(
            metal_level=d.log(0.2, 1.0),
            metal_hz=d.log(400.0, 1200.0),
            metal_count=2,
            metal_lo_hz=d.log(500.0, 2000.0),
            metal_decay_s=p["body_decay_s"],
        )
    return p | _pitch_extras(d, beat=0.1, fm=0.15) | _click_part(d, 0.7, lo_hz=1500.0)


def _cowbell(d: _Draw) -> dict:
    lo = d.log(300.0, 1200.0)
    p = {
        "metal_level": 1.0,
        "metal_hz": d.log(330.0, 950.0),
        "metal_count": 2 if d.chance(0.8) else d.count(3, 4),
        "metal_spread": d.uni(0.9, 1.1),
        "metal_square": d.uni(0.5, 1.0),
        "metal_lo_hz": lo,
        "metal_hi_hz": d.log(max(2000.0, 1.5 * lo), 9000.0),
        "metal_decay_s": d.log(0.08, 1.0),
        "metal_snap": d.uni(0.2, 0.85),
    }
    return p | _click_part(d, 0.3)


def _cymbal(d: _Draw) -> dict:
    decay = d.log(0.5, 1.5)
    p = {
        "metal_level": 1.0,
        "metal_hz": d.log(150.0, 500.0),
        "metal_count": 6,
        "metal_spread": d.uni(0.8, 1.3),
        "metal_square": d.uni(0.5, 1.0),
        "metal_lo_hz": d.log(1500.0, 8000.0),
        "metal_hi_hz": 0.0 if d.chance(0.5) else d.log(10000.0, 19000.0),
        "metal_decay_s": decay,
        "metal_snap": d.uni(0.0, 0.4),
        "noise_level": d.log(0.1, 1.0),
        "noise_lo_hz": d.log(2500.0, 9000.0),
        "noise_decay_s": decay * d.uni(0.4, 1.0),
    }
    return p | _click_part(d, 0.3, lo_hz=2000.0)


def _noise_hit(d: _Draw) -> dict:
    lo = d.log(20.0, 8000.0)
    p = {
        "noise_level": 1.0,
        "noise_lo_hz": lo,
        "noise_hi_hz": d.log(1.5 * lo, 20000.0),
        "noise_decay_s": d.log(0.03, 1.5),
    }
    if d.chance(0.2):
        p.update(bursts=d.count(2, 4), burst_gap_s=d.log(0.005, 0.03))
    return p


@dataclass(frozen=True)
class _Kind:
    """How a kind is drawn: its own parts, then the chances of the shared character
    (a soft attack, drive, ring modulation, a dark low-pass, a thin high-pass up
    to ``thin_max_hz``) that push its descriptors to the edges."""

    draw: Callable[[_Draw], dict]
    soft: float
    drive: float
    ring: float
    dark: float
    thin: float = 0.0
    thin_max_hz: float = 0.0


_KIND_DRAWS: dict[str, _Kind] = {
    "kick": _Kind(_kick, soft=0.25, drive=0.35, ring=0.08, dark=0.4, thin=0.15, thin_max_hz=150),
    "snare": _Kind(_snare, soft=0.15, drive=0.25, ring=0.1, dark=0.4, thin=0.2, thin_max_hz=400),
    "tom": _Kind(_tom, soft=0.3, drive=0.2, ring=0.1, dark=0.4, thin=0.15, thin_max_hz=300),
    "hihat_closed": _Kind(
        lambda d: _hihat(d, (0.03, 0.2)), soft=0.1, drive=0.15, ring=0.15, dark=0.2
    ),
    "hihat_open": _Kind(
        lambda d: _hihat(d, (0.25, 1.5)), soft=0.15, drive=0.15, ring=0.15, dark=0.2
    ),
    "clap": _Kind(_clap, soft=0.1, drive=0.3, ring=0.1, dark=0.3, thin=0.2, thin_max_hz=600),
    "rim": _Kind(_rim, soft=0.05, drive=0.25, ring=0.15, dark=0.3, thin=0.2, thin_max_hz=600),
    "cowbell": _Kind(
        _cowbell, soft=0.15, drive=0.25, ring=0.2, dark=0.3, thin=0.1, thin_max_hz=400
    ),
    "cymbal": _Kind(_cymbal, soft=0.2, drive=0.15, ring=0.2, dark=0.3),
    "noise": _Kind(_noise_hit, soft=0.25, drive=0.2, ring=0.2, dark=0.3),
}


def random_params(kind: str, rng: np.random.Generator) -> dict:
    """Parameters of one random hit of ``kind``: ints and floats, JSON-safe."""
    if kind not in _KIND_DRAWS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    how = _KIND_DRAWS[kind]
    d = _Draw(rng)
    p: dict = {"seed": int(rng.integers(2**31))} | how.draw(d)
    voice = Voice(**p)
    shortest = min(
        decay
        for decay, level in (
            (voice.body_decay_s, voice.body_level),
            (voice.noise_decay_s, voice.noise_level),
            (voice.metal_decay_s, voice.metal_level),
        )
        if level > 0
    )
    if d.chance(how.soft):
        p["attack_s"] = min(d.log(0.004, 0.03), float(f"{0.3 * shortest:.4g}"))
    else:
        p["attack_s"] = d.uni(0.0, 0.002)
    if d.chance(how.drive):
        p["drive"] = d.uni(0.05, 1.0)
    if d.chance(how.ring):
        p.update(ring_hz=d.log(30.0, 3000.0), ring_mix=d.uni(0.2, 1.0))
    if d.chance(how.dark):
        p["tone_hz"] = d.log(300.0, 12000.0)
    if d.chance(how.thin):
        p["thin_hz"] = d.log(30.0, how.thin_max_hz)
    return p


# --- the source ------------------------------------------------------------------


def hits(count: int, seed: int = 0) -> list[Hit]:
    """``count`` hits, the kinds in turn, grouped into kits of ``KIT_SIZE``.

    Hit ``i`` draws from a generator seeded by (seed, i) alone, so a longer list
    starts with the same hits as a shorter one.
    """
    result = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        params = random_params(kind, np.random.default_rng([seed, i]))
        recipe = Hit.make_recipe(
            kind=kind, params=params, seed=seed, index=i, sample_rate=SAMPLE_RATE, version=VERSION
        )
        result.append(
            Hit(
                source=SOURCE,
                kit=f"synthetic-{i // KIT_SIZE:02d}",
                instrument=f"{kind} {i:05d}",
                instrument_class=CLASS_OF[kind],
                recipe=recipe,
            )
        )
    return result


def render_hit(hit: Hit) -> Audio:
    """The hit's audio, from its recipe alone."""
    fields = hit.recipe_fields()
    if fields.get("version") != VERSION:
        raise ValueError(
            f"{hit.instrument}: recipe version {fields.get('version')} is not {VERSION}"
        )
    rate = int(fields["sample_rate"])
    mono = render(fields["kind"], fields["params"], rate)
    return Audio(frames=mono[:, None], sample_rate=rate)


# --- the demo groove -------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    time_s: float
    kind: str
    velocity: float
    voice: str


def groove_kit(rng: np.random.Generator) -> dict[str, tuple[str, dict]]:
    """One coherent kit: random voices tamed into a plausible drum set."""
    kit: dict[str, tuple[str, dict]] = {}
    tame = {"ring_mix": 0.0, "attack_s": 0.0, "tone_hz": 0.0, "thin_hz": 0.0, "drive": 0.0}
    limits = {
        "kick": {"body_decay_s": 0.45, "body_sweep": 6.0},
        "snare": {"noise_decay_s": 0.3, "body_decay_s": 0.2},
        "tom": {"body_decay_s": 0.6},
        "hihat_closed": {"metal_decay_s": 0.09, "noise_decay_s": 0.08},
        "hihat_open": {"metal_decay_s": 0.6, "noise_decay_s": 0.5},
        "cymbal": {},
    }
    for kind, caps in limits.items():
        params = random_params(kind, rng) | tame
        for name, cap in caps.items():
            params[name] = min(params.get(name, cap), cap)
        params.pop("fm_index", None)
        params.pop("beat_level", None)
        kit[kind] = (kind, params)
    kit["kick"][1]["body_sweep"] = max(kit["kick"][1]["body_sweep"], 1.5)
    tom = kit.pop("tom")[1]
    for k, (name, ratio) in enumerate((("tom_high", 1.0), ("tom_mid", 0.78), ("tom_floor", 0.6))):
        kit[name] = ("tom", tom | {"body_hz": tom["body_hz"] * ratio, "seed": tom["seed"] + k})
    return kit


def stroke(voice: tuple[str, dict], velocity: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One stroke of a kit's voice at ``velocity`` (0..1): a softer one is darker, as a
    lighter stroke on a real drum is (its level is the caller's to set)."""
    kind, params = voice
    return render(kind, params | {"tone_hz": 2000.0 + 16000.0 * velocity**2}, sample_rate)


def pattern(rng: np.random.Generator, bars: int, bpm: float) -> list[Note]:
    """A backbeat with ghost notes, an open hat, flams, a tom fill and a crash."""
    step = 60.0 / bpm / 4
    notes: list[Note] = []

    def hit(bar: int, sixteenth: int, voice: str, velocity: float, early_s: float = 0.0) -> None:
        jitter = rng.normal(0.0, 0.003)
        time_s = max(0.0, (bar * 16 + sixteenth) * step + jitter - early_s)
        level = float(np.clip(velocity * rng.uniform(0.9, 1.1), 0.05, 1.0))
        notes.append(Note(time_s, _voice_kind(voice), level, voice))

    for bar in range(bars):
        fill = bar == bars - 1
        if bar == 0:
            hit(bar, 0, "cymbal", 0.9)
        for s in (0, 10) if fill else (0, 7, 10):
            hit(bar, s, "kick", 1.0 if s != 7 else 0.7)
        for s in (4, 12):
            if bar % 2 == 1 and s == 12:
                hit(bar, s, "snare", 0.3, early_s=rng.uniform(0.025, 0.04))
            hit(bar, s, "snare", 1.0)
        open_bar = bar == 1
        for s in (3,) if fill else (3, 9) if open_bar else (3, 9, 15):
            hit(bar, s, "snare", rng.uniform(0.12, 0.25))
        for s in range(0, 12 if fill else 16, 2):
            open_hat = open_bar and s == 14
            hit(bar, s, "hihat_open" if open_hat else "hihat_closed", 0.8 if s % 4 == 0 else 0.45)
        if fill:
            for s, voice in ((13, "tom_high"), (14, "tom_mid"), (15, "tom_floor")):
                hit(bar, s, voice, 0.85)
    return sorted(notes, key=lambda note: note.time_s)


def _voice_kind(voice: str) -> str:
    return "tom" if voice.startswith("tom") else voice


def groove(
    seed: int, bars: int = 4, bpm: float = 100.0, sample_rate: int = SAMPLE_RATE
) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """A short drum groove from one random synthetic kit, and its onsets.

    Notes are humanised (a few ms of timing, +-10 % velocity); softer notes are
    also darker, as a lighter stroke on a real drum is. Returns float32 mono
    audio peaking at -1 dBFS and the (onset seconds, kind) of every note.
    """
    rng = np.random.default_rng(seed)
    kit = groove_kit(rng)
    notes = pattern(rng, bars, bpm)
    length = math.ceil((bars * 4 * 60.0 / bpm + 0.4) * sample_rate)
    mix = np.zeros(length)
    for note in notes:
        audio = stroke(kit[note.voice], note.velocity, sample_rate)
        start = round(note.time_s * sample_rate)
        part = audio[: length - start]
        mix[start : start + part.size] += note.velocity**1.5 * part
    fade = round(0.2 * sample_rate)
    mix[-fade:] *= np.linspace(1.0, 0.0, fade)
    mix *= 10 ** (-1 / 20) / float(np.abs(mix).max())
    return mix.astype(np.float32), [(note.time_s, note.kind) for note in notes]


def write_groove(
    out: Path, seed: int, bars: int, bpm: float, sample_rate: int, lead_in_s: float = 0.0
) -> tuple[float, list[tuple[float, str]], Path]:
    """``groove`` to a file, after ``lead_in_s`` of silence, with its onsets in
    ``OUT.onsets.csv``: the seconds written, the notes, and the CSV's path."""
    import soundfile

    audio, notes = groove(seed, bars=bars, bpm=bpm, sample_rate=sample_rate)
    lead = round(lead_in_s * sample_rate)
    audio = np.concatenate([np.zeros(lead, dtype=audio.dtype), audio])
    notes = [(t + lead / sample_rate, kind) for t, kind in notes]
    out.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(out, audio, sample_rate, subtype="PCM_16")
    onsets = out.with_suffix(".onsets.csv")
    with onsets.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["onset_s", "kind"])
        writer.writerows((f"{t:.6f}", kind) for t, kind in notes)
    return audio.size / sample_rate, notes, onsets
