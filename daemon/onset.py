"""Online percussive onset detection at a 4 ms hop: a learned activation (the
default) or log-magnitude spectral flux.

One ``OnsetDetector`` per channel, fed blocks of any size at the channel's
native rate; it keeps its own state between blocks, so feeding a file in one
block or in 64-sample blocks gives the same onsets (the madmom processor idea).
``Framer`` cuts the stream into frames for both methods, and it is also what the
trainer cuts its grooves with, so the learned detector trains on the frames it
will see.

Frames: the magnitude spectrum of a 12 ms Hann frame every 4 ms; the frame lasts
12 ms at any rate, so bins are 83 Hz apart at 44.1 or 48 kHz alike.

``learned`` (``daemon/activation.py``): a small network reads the log band
energies of the last 16 frames and says how likely an attack entered the newest
frame; an onset fires on the first frame whose activation reaches
``activation`` and that a neighbour confirms (a flicker of noise lights up one
frame, an attack several): at once if it reaches ``SURE`` or the frame before
reached ``CONFIRM`` of the threshold (the attack rose through two frames), else
when the next frame reaches the threshold too; once the activation has fallen to
half of that since the last onset, while the frame is louder than the noise floor
and no onset fired in the last ``min_interval``. Look-ahead: at most that one frame.

``flux``: the spectrum compressed as ``log10(1 + GAMMA |X|)``, and its positive
flux taken against a 3-bin maximum filter of the previous frame (SuperFlux's
trick, which keeps a ringing or vibrating partial from counting as new energy),
averaged over bins. (Pooling bins into log-spaced bands first was tried: more
ghost notes, fewer strokes, and a lower F-measure on the benchmark's tuning seed,
0.903 against 0.917.) An onset fires on the first frame whose flux exceeds both
``threshold + RATIO * median(recent flux)`` and ``MASK_RATIO`` of a decaying
memory of recent flux peaks, with the same floor and guard.

Either way the detection frame ends a few ms after the attack, so the onset is
then placed back on the attack in the waveform: walking back from the peak so
far, the sample where the 1 ms envelope last rose through a fifth of the way from
the level before the hit to that peak.

The constants and defaults were tuned on grooves of ``bench/onsets.py`` rendered
with another seed (``--seed 1``) than the one its reported figures use (0).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np

from timbrecast.daemon.activation import Activation
from timbrecast.daemon.selftest import Verdict

FRAME_S = 0.012
HOP_S = 0.004
GAMMA = 1e4
RATIO = 1.5
MEDIAN_FRAMES = 25
ATTACK_RISE = 0.2
#: A hit's own decay (a snare's noise, a cymbal's wash) keeps fluctuating in
#: level; so the flux threshold also follows recent flux peaks, decaying with
#: ``MASK_S``, at ``MASK_RATIO`` of their height. At half the height, a snare's
#: decay no longer retriggers 30-40 ms after it, and a ghost note 100 ms after a
#: full stroke still clears the mask (which has fallen to 4 % of that peak).
MASK_RATIO = 0.5
MASK_S = 0.04
ENVELOPE_S = 0.001
#: The first frames of a stream are compared with silence before it. A stream
#: that starts in noise (a live input's hiss, a recording's room tone) would read
#: as a hit there, one that starts on a hit (a one-shot file) must: so there a
#: hit must also be this far above the floor (-40 dBFS RMS at the default).
STARTUP_MARGIN_DB = 30.0
#: A learned activation this high fires at once; lower ones above the threshold
#: need a neighbour to agree.
SURE = 0.95
#: The frame before agrees at this fraction of the threshold: a soft note in a
#: room often rises through one frame below the threshold to one frame above it,
#: then falls back, and waiting for a second frame above lost it. Chosen on the
#: validation kits (0.4-0.8 tried, 0.6 the best F; ``docs/benchmarks.md``).
CONFIRM = 0.6
#: The onset methods, the default first.
METHODS = ("learned", "flux")


@dataclass(frozen=True)
class DetectorSettings:
    """What a user tunes (and ``SIGHUP`` reloads, except ``method``).

    ``method``: ``learned`` or ``flux``. ``activation``: the learned detector's
    threshold on its activation (0-1; lower is more sensitive). ``threshold``: the
    flux detector's, flux above the adaptive median. ``floor_db``: frames quieter
    than this (RMS dBFS) never start an onset. ``min_interval`` (s): the retrigger
    guard; a flam's grace note 15-30 ms before the stroke is one hit at the default,
    both at 0.010. The numbers take the values in ``DETECTOR_LIMITS``, the same in
    the settings file and on the command line.
    """

    threshold: float = 0.015
    floor_db: float = -70.0
    min_interval: float = 0.030
    activation: float = 0.4
    method: str = METHODS[0]

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r} is not one of {', '.join(METHODS)}")
        for f in fields(self):
            if f.name in DETECTOR_LIMITS:
                low, high = DETECTOR_LIMITS[f.name]
                value = getattr(self, f.name)
                if not low <= value <= high:
                    raise ValueError(f"{f.name} {value} is outside {low:g}..{high:g}")


#: The range of each numeric detector setting.
DETECTOR_LIMITS: dict[str, tuple[float, float]] = {
    "threshold": (1e-6, 10.0),
    "floor_db": (-120.0, 0.0),
    "min_interval": (0.005, 2.0),
    "activation": (0.01, 0.99),
}


@dataclass(frozen=True)
class OnsetEvent:
    """An onset: ``sample`` is the attack, ``detected_at`` the end of the frame
    that saw it (both absolute sample indices of the channel's stream)."""

    sample: int
    detected_at: int
    strength: float


@dataclass(frozen=True)
class Frames:
    """The frames a block completed: where each ends (stream sample) and its magnitude
    spectrum (``(n, bins)``, a full-scale sine's peak reads 1)."""

    ends: np.ndarray
    magnitudes: np.ndarray


class Framer:
    """Cuts one channel into ``FRAME_S`` frames every ``HOP_S``, block by block,
    and keeps the recent samples that place an onset on its attack. The stream is
    taken to start in silence: the first frames reach back before its first sample."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.frame = max(32, round(FRAME_S * sample_rate))
        self.hop = max(8, round(HOP_S * sample_rate))
        self._window = np.hanning(self.frame).astype(np.float32)
        self._scale = 2.0 / float(self._window.sum())
        self._envelope = max(1, round(ENVELOPE_S * sample_rate))
        # Samples kept for the next frames and for placing onsets on the attack.
        self._keep = self.frame + 2 * self.hop + self.frame
        # The history is self._buffer[:self._fill]: blocks are copied in place, and
        # only when the buffer is full are the samples still needed moved to its
        # start (a live stream's blocks cost one copy each, not a new array).
        self._buffer = np.zeros(4 * self._keep, dtype=np.float32)
        self._fill = self._keep
        self._consumed = 0
        self._pending = 0
        self._no_ends = np.zeros(0, dtype=np.int64)

    def push(self, block: np.ndarray) -> Frames:
        """Feed the next samples (1-D float); returns the frames they complete."""
        ends, frames = self.cut(block)
        return Frames(ends, self.spectra(frames))

    def cut(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feed the next samples (1-D float); returns where each frame they complete
        ends (stream samples) and its samples (``(n, frame)``, valid until the next
        block)."""
        block = np.asarray(block, dtype=np.float32).ravel()
        self._append(block)
        self._consumed += block.size
        self._pending += block.size
        hops = self._pending // self.hop
        if hops == 0:  # most blocks of a live stream are shorter than a hop
            return self._no_ends, self._buffer[:0].reshape(0, self.frame)
        self._pending -= hops * self.hop
        history = self._buffer[: self._fill]
        end = history.size - self._pending
        last = self._consumed - self._pending
        if hops == 1:
            # A live stream's usual case, one frame: the same arithmetic as below,
            # without the index arrays (each numpy call costs microseconds here).
            return np.array([last], dtype=np.int64), history[end - self.frame : end][None]
        back = self.hop * np.arange(hops - 1, -1, -1)
        frames = np.lib.stride_tricks.sliding_window_view(history, self.frame)[
            end - self.frame - back
        ]
        return last - back, frames

    def spectra(self, frames: np.ndarray) -> np.ndarray:
        """The magnitude spectra of ``(..., frame)`` samples (of any channels and
        frames: one FFT call for them all)."""
        magnitudes = np.abs(np.fft.rfft(frames * self._window))
        magnitudes *= self._scale
        return magnitudes

    def level_db(self, frame_end: int) -> float:
        """The RMS level (dBFS) of the frame that ends at ``frame_end``, which must
        be one of the last block's. Only a candidate onset needs it."""
        offset = self._fill - (self._consumed - frame_end)
        frame = self._buffer[offset - self.frame : offset]
        power = float(np.square(frame, dtype=np.float64).sum())
        return 20.0 * float(np.log10(max(np.sqrt(power / self.frame), 1e-12)))

    def _append(self, block: np.ndarray) -> None:
        if self._fill + block.size > self._buffer.size:
            needed = self._keep + self._pending
            if needed + block.size > self._buffer.size:
                grown = np.zeros(2 * (needed + block.size), dtype=np.float32)
                grown[:needed] = self._buffer[self._fill - needed : self._fill]
                self._buffer = grown
            else:
                self._buffer[:needed] = self._buffer[self._fill - needed : self._fill]
            self._fill = needed
        self._buffer[self._fill : self._fill + block.size] = block
        self._fill += block.size

    def attack(self, frame_end: int) -> int:
        """The attack inside the frames before ``frame_end``, in stream samples."""
        span = self.frame + 2 * self.hop
        offset = self._fill - (self._consumed - frame_end)
        region = np.abs(self._buffer[max(0, offset - span) : offset])
        start = frame_end - region.size
        if region.size <= self._envelope:
            return start
        envelope = np.lib.stride_tricks.sliding_window_view(region, self._envelope).max(axis=1)
        # The new hit rises from the quietest point of the region: before it, an
        # earlier hit may still be ringing louder than the new one's first
        # milliseconds (a detector that fires early has seen only those).
        valley = int(np.argmin(envelope))
        peak = valley + int(np.argmax(envelope[valley:]))
        before = float(np.median(envelope[max(0, valley - self.hop) : valley + 1]))
        rise = before + ATTACK_RISE * (float(envelope[peak]) - before)
        # Back from the peak to where the envelope last stood below the rise: the
        # first crossing from the valley could be a flicker of noise. envelope[i]
        # is the maximum of region[i : i + window], so the envelope reaches the
        # rise where the window's last sample does.
        below = np.flatnonzero(envelope[valley:peak] < rise)
        crossing = valley + (int(below[-1]) + 1 if below.size else 0)
        return max(0, start + crossing + self._envelope - 1)


class _Method(Protocol):
    """One frame of each channel in (``(channels, bins)``); out, the onset candidates
    that end there: (channel, detection value, ``back``), where ``back`` 1 means the
    candidate ends at the frame before."""

    #: The model it runs, if any, and how its self-test went.
    model_id: str | None
    verdict: Verdict | None

    def step(
        self, magnitudes: np.ndarray, settings: DetectorSettings
    ) -> list[tuple[int, float, int]]: ...


class _Flux:
    model_id = None
    verdict = None

    def __init__(self, framer: Framer, channels: int) -> None:
        self._previous: np.ndarray | None = None
        # The last MEDIAN_FRAMES fluxes of each channel, oldest overwritten first
        # (a median does not care about their order).
        self._recent = np.zeros((MEDIAN_FRAMES, channels))
        self._count = 0
        self._mask = np.zeros(channels)
        self._mask_decay = float(np.exp(-framer.hop / (MASK_S * framer.sample_rate)))

    def step(
        self, magnitudes: np.ndarray, settings: DetectorSettings
    ) -> list[tuple[int, float, int]]:
        spectrum = np.log10(1.0 + GAMMA * magnitudes)
        previous, self._previous = self._previous, spectrum
        if previous is None:
            return []
        widened = np.maximum(np.maximum(previous[:, :-2], previous[:, 1:-1]), previous[:, 2:])
        flux = np.mean(np.maximum(spectrum[:, 1:-1] - widened, 0.0), axis=1).astype(np.float64)
        filled = min(self._count, MEDIAN_FRAMES)
        baseline = np.median(self._recent[:filled], axis=0) if filled else np.zeros_like(flux)
        self._recent[self._count % MEDIAN_FRAMES] = flux
        self._count += 1
        mask, self._mask = self._mask, np.maximum(flux, self._mask * self._mask_decay)
        threshold = np.maximum(settings.threshold + RATIO * baseline, MASK_RATIO * mask)
        return [(int(c), float(flux[c]), 0) for c in np.flatnonzero(flux > threshold)]


class _Learned:
    def __init__(self, framer: Framer, channels: int) -> None:
        self._activation = Activation(
            framer.sample_rate, framer.frame, FRAME_S, HOP_S, channels=channels
        )
        self.model_id: str | None = self._activation.contract.model_id
        self.verdict: Verdict | None = self._activation.verdict
        self._armed = [True] * channels
        self._previous = [0.0] * channels

    def step(
        self, magnitudes: np.ndarray, settings: DetectorSettings
    ) -> list[tuple[int, float, int]]:
        values = self._activation.step(magnitudes)
        threshold, candidates = settings.activation, []
        # Plain Python per channel: for a few values, faster than numpy's calls.
        for channel, value in enumerate(values):
            previous = self._previous[channel]
            self._previous[channel] = value
            # An attack lights up several frames, a flicker of noise one: a frame
            # above the threshold fires at once only if the network is sure or the
            # frame before rose towards it, else when the next frame confirms it (one
            # hop of look-ahead), and the onset is placed from the first frame above
            # the threshold, as if it had fired there.
            armed = self._armed[channel]
            fires = (
                armed and value >= threshold and (value >= SURE or previous >= CONFIRM * threshold)
            )
            if fires:
                candidates.append((channel, value, int(previous >= threshold)))
            # Re-armed once the activation has fallen well below the threshold: one
            # stroke's frames above it make one candidate, not one per frame.
            self._armed[channel] = value < 0.5 * threshold or (armed and not fires)
        return candidates


class OnsetDetector:
    """Stateful onset detector for the ``channels`` of one stream at ``sample_rate``.

    Each channel has its own frames, memory, peak picking and onsets; a hop's frames
    of all the channels go through one FFT and one network call together, so a
    channel more costs a fraction of the first (``bench/realtime.py``). A channel's
    activations may differ from those it gets alone in the last bit of a float (the
    band sums are one matrix product for all channels)."""

    def __init__(
        self, sample_rate: int, settings: DetectorSettings | None = None, channels: int = 1
    ) -> None:
        self.sample_rate = sample_rate
        self.settings = settings or DetectorSettings()
        self.framers = [Framer(sample_rate) for _ in range(channels)]
        self.framer = self.framers[0]
        self._method: _Method = (
            _Learned(self.framer, channels)
            if self.settings.method == "learned"
            else _Flux(self.framer, channels)
        )
        self._last_onset = [-(10**12)] * channels

    @property
    def model_id(self) -> str | None:
        """The learned method's onset model; None for flux."""
        return self._method.model_id

    @property
    def verdict(self) -> Verdict | None:
        """The learned method's model self-test at load; None for flux."""
        return self._method.verdict

    def process(self, block: np.ndarray) -> list[OnsetEvent]:
        """Feed the next samples of a one-channel stream (1-D float); returns the
        onsets they complete."""
        return self.process_channels(np.asarray(block).reshape(-1, 1))[0]

    def process_channels(self, block: np.ndarray) -> list[list[OnsetEvent]]:
        """Feed the next ``(frames, channels)`` samples; returns each channel's onsets."""
        if block.shape[1] != len(self.framers):
            raise ValueError(f"expected {len(self.framers)} channels, got {block.shape[1]}")
        cuts = [framer.cut(block[:, c]) for c, framer in enumerate(self.framers)]
        ends = cuts[0][0]
        events: list[list[OnsetEvent]] = [[] for _ in self.framers]
        if not ends.size:
            return events
        # (frames, channels, bins): one FFT for every channel's frames of the block.
        frames = cuts[0][1][:, None] if len(cuts) == 1 else np.stack([f for _, f in cuts], 1)
        magnitudes = self.framer.spectra(frames)
        for end, magnitude in zip(ends.tolist(), magnitudes, strict=True):
            for channel, value, back in self._method.step(magnitude, self.settings):
                event = self._confirm(channel, value, back, end)
                if event is not None:
                    events[channel].append(event)
        return events

    def _confirm(self, channel: int, value: float, back: int, frame_end: int) -> OnsetEvent | None:
        """A candidate of ``channel`` becomes an onset if it is above the floor and
        outside the guard of the last one, placed on its attack."""
        settings, framer = self.settings, self.framers[channel]
        last_onset = self._last_onset[channel]
        seen = frame_end - back * framer.hop
        # The previous frame reached back before the stream's first sample.
        startup = frame_end - framer.hop < framer.frame
        margin = STARTUP_MARGIN_DB if startup else 0.0
        if framer.level_db(frame_end) <= settings.floor_db + margin:
            return None
        guard = round(settings.min_interval * self.sample_rate)
        if frame_end - last_onset < guard:
            return None
        attack = framer.attack(seen)
        if attack - last_onset < guard and back:
            # The first frame may have risen with only the hit's first samples in
            # it: placed from there, the attack lands on the last hit's tail, under
            # the guard. If the frame that confirmed it puts the attack after that
            # first frame, that is where it is. (Without this, a hit 30.4 ms after
            # another went missing at some phases of the hop grid: live capture
            # lost what `analyze` found.)
            later = framer.attack(frame_end)
            attack = later if later > seen else attack
        if attack - last_onset < guard:
            return None
        self._last_onset[channel] = attack
        return OnsetEvent(sample=attack, detected_at=frame_end, strength=value)
