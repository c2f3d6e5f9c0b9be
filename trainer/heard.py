"""What the teacher hears of a one-shot: the file as a user has it, not the model input.

A user asks what the teacher says of *their file*, and the teacher hears things
the model input has lost (``bench/label_gap.py``, 100 held-out drum-machine
files, normalised MAE of the teacher's labels): resampling the file to 16 kHz
moves them by 0.040 (hardness by 0.096), the model input's 5 ms of silence
before the attack by 0.036 (roughness by 0.092). So a label is the teacher's
verdict on the hit as a file of it sounds, and the model learns to predict that
from its own 16 kHz input.

The view, in order, and why:

1. Mix down to mono, as the teacher's ``channel_reduction`` would.
2. Start at the sound's start: the first sample at most ``LEAD_S`` before the
   attack (10 % of the peak, as in ``preprocess``) that reaches ``START_DB`` of the
   peak. Silence or noise a recording put before the hit is cut, since the
   model, which aligns on the attack, cannot see it and the teacher would hear
   it. Less than ``MIN_CUT_S`` of it is left alone: a file's first few samples
   are its own (the teacher moves 0.7 points when the one zero sample that opens
   the parity clip ``gmrockkit-Kick-Softest.wav`` is cut), and a file that starts
   on its hit is then heard exactly as it is (all 40 parity clips).
3. Keep its first ``LENGTH_S``: the model hears one second, and what comes
   later moves the teacher's labels by 0.0008 (``bench/label_gap.py``).

Nothing else: no resampling (the teacher brings anything below 44.1 kHz up to it
itself), no level change, and the samples kept as float32, which holds 16- and
24-bit audio exactly. The teacher is that fragile: re-quantising a hi-hat's
44.1 kHz upsampling to 16 bits moves its warmth by 15 points (parity clip
``synth-hat-2.wav``), since 16-bit noise is all the low band such a clip has.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from timbrecast.daemon.preprocess import (
    SILENCE_PEAK,
    PreprocessError,
    attack_index,
    checked_mono,
)

LEAD_S = 0.005
START_DB = -80.0
MIN_CUT_S = 0.001
LENGTH_S = 1.0
#: What a model trained on these labels learnt, as its contract records it
#: (``training_data["labels"]``, shown by ``timbrecastd info``).
LABELS = "timbral_models 0.4.0 on each hit as its file sounds (own rate, from its start, 1 s)"
#: What models exported before the view record instead: their corpus was labelled
#: on the 16 kHz model input.
OLD_LABELS = "timbral_models 0.4.0 on the 16 kHz model input"


@dataclass(frozen=True)
class View:
    """What the teacher labels: mono float32 samples at the file's own rate."""

    samples: np.ndarray
    rate: int

    @property
    def key(self) -> str:
        """SHA-256 of rate and samples: the key of its label in the cache and the corpus."""
        digest = hashlib.sha256(str(self.rate).encode())
        digest.update(np.ascontiguousarray(self.samples, dtype="<f4").tobytes())
        return digest.hexdigest()


def sound_start(mono: np.ndarray, sample_rate: int) -> int:
    """Index of the first sample, at most ``LEAD_S`` before the attack, that reaches
    ``START_DB`` of the peak (see step 2)."""
    attack = attack_index(mono)
    lead = mono[max(0, attack - round(LEAD_S * sample_rate)) : attack + 1]
    floor = np.abs(mono).max() * 10.0 ** (START_DB / 20.0)
    return attack - lead.size + 1 + int(np.argmax(np.abs(lead) >= floor))


def heard(frames: np.ndarray, sample_rate: int) -> View:
    """The teacher's view of a one-shot. Raises ``PreprocessError`` for audio it
    cannot hear."""
    mono = checked_mono(frames, sample_rate)
    if np.abs(mono).max() < SILENCE_PEAK:
        raise PreprocessError("audio is silent (peak below -100 dBFS)")
    start = sound_start(mono, sample_rate)
    if start < round(MIN_CUT_S * sample_rate):
        start = 0
    kept = mono[start : start + round(LENGTH_S * sample_rate)]
    # + 0.0 turns -0.0 into 0.0: equal audio, equal bytes, one key.
    return View(kept.astype(np.float32) + np.float32(0.0), sample_rate)
