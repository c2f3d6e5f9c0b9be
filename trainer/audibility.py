"""How audible a note is where it falls: its local signal-to-noise ratio.

A room or a noise floor does not make the onset detector worse at a given ratio
of a note's own sound to everything else around its attack; it moves soft notes
down that axis (docs/benchmarks.md, "How loud each note is"). So the benchmark
(``bench/onset_snr.py``) reports recall by this ratio, and the onset trainer
weighs its targets by it: a note no band-energy detector can hear teaches the
network only to fire on noise, and the notes a few dB above what surrounds them
are the ones a drummer loses in a live room.

The ratio is measured as the learned detector frames: per band of its 32 mel
bands, over 12 ms Hann frames every 4 ms that hold the note's first ``AFTER_S``,
the note's own sound (sent down the condition's path by ``grooves.Heard.of``)
against all else the condition delivers; a note's local SNR is its best band's.
"""

from __future__ import annotations

import numpy as np

from timbrecast.daemon.activation import filterbank
from timbrecast.daemon.onset import FRAME_S, HOP_S
from timbrecast.trainer.grooves import RATE, Heard, Part

#: How far after the attack a note's SNR is measured.
AFTER_S = 0.024


class Bands:
    """Band energies of 12 ms Hann frames every 4 ms, as the learned detector frames."""

    def __init__(self) -> None:
        self.frame, self.hop = round(FRAME_S * RATE), round(HOP_S * RATE)
        self.bank = filterbank(RATE, self.frame)
        self.window = np.hanning(self.frame)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(audio, self.frame)[:: self.hop]
        return (np.abs(np.fft.rfft(frames * self.window)) ** 2).sum(axis=0) @ self.bank.T


def local_snr(heard: Heard, part: Part, attack: int, bands: Bands) -> float | None:
    """The note's best band's energy over the rest's, in dB, over the frames that
    hold its first ``AFTER_S``; None where those run off the groove."""
    low, high = attack - bands.frame // 2, attack + round(AFTER_S * RATE) + bands.frame // 2
    if low < 0 or high > heard.audio.size:
        return None
    origin = min(part.start, low)
    alone = np.zeros(high - origin)
    n = max(0, min(part.sound.size, high - part.start))
    alone[part.start - origin : part.start - origin + n] = part.gain * part.sound[:n]
    own = heard.of(alone)[low - origin :]
    rest = heard.audio[low:high] - own
    ratio = (bands(own) + 1e-20) / (bands(rest) + 1e-20)
    return float(10 * np.log10(ratio.max()))
