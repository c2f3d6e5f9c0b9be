"""The contract between the trainer, the exported model and the daemon.

These constants are what a model was trained on and what the daemon must feed
it. The exported ``.tflite`` file carries its own copy (see ``modelmeta``), and the
daemon checks the file's copy against what this code can honour.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The seven AudioCommons descriptors, in the order of the model's outputs.
DESCRIPTORS: tuple[str, ...] = (
    "hardness",
    "depth",
    "brightness",
    "roughness",
    "warmth",
    "sharpness",
    "boominess",
)

#: Model input: mono, 16 kHz, 1 s, starting this long before the attack.
SAMPLE_RATE = 16_000
INPUT_LENGTH = 16_000
PREROLL_S = 0.005


def early_length(early_ms: float) -> int:
    """Input samples of an early-estimate model: the pre-roll and the hit's first ms."""
    return round((PREROLL_S + early_ms / 1000.0) * SAMPLE_RATE)


#: Bumped whenever ``preprocess`` changes what a clip turns into; a model trained
#: under another version is refused.
PREPROCESS_VERSION = 1


@dataclass(frozen=True)
class Range:
    """Min and max of one descriptor over the Freesound one-shot dataset."""

    low: float
    high: float

    def normalise(self, value: float) -> float:
        return (value - self.low) / (self.high - self.low)

    def denormalise(self, value: float) -> float:
        return self.low + value * (self.high - self.low)


#: The seed's min-max normalisation of the labels (10,246 Freesound files with all
#: seven descriptors). Kept fixed so that MAE figures compare with the seed's.
NORMALISATION: dict[str, Range] = {
    "hardness": Range(11.586, 82.596),
    "depth": Range(0.141, 100.000),
    "brightness": Range(10.874, 84.309),
    "roughness": Range(0.000, 77.091),
    "warmth": Range(7.696, 78.870),
    "sharpness": Range(0.000, 92.585),
    "boominess": Range(0.000, 71.482),
}
