"""The contract between the trainer, the exported model and the daemon.

These constants are what a model was trained on and what the daemon must feed
it. The exported ``.tflite`` file carries its own copy, a ``ModelContract`` (read
by ``tflitemeta``), which the daemon checks against what this code can honour.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np

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


def the_seven(names: Iterable[object]) -> bool:
    """Whether ``names`` are the seven descriptors, each once, in any order. Any
    iterable may be asked (a decoded message's keys can be bytes): never raises."""
    names = list(names)
    return (
        len(names) == len(DESCRIPTORS)
        and all(isinstance(name, str) for name in names)
        and set(names) == set(DESCRIPTORS)
    )


#: Model input: mono, 16 kHz, 1 s, starting this long before the attack.
SAMPLE_RATE = 16_000
INPUT_LENGTH = 16_000
PREROLL_S = 0.005


def early_length(early_ms: float) -> int:
    """Input samples of an early-estimate model: the pre-roll and the hit's first ms."""
    return round((PREROLL_S + early_ms / 1000.0) * SAMPLE_RATE)


def early_ms_of(input_length: int) -> float | None:
    """The inverse: how many ms after the attack a model of that input length reads
    (``None`` for a full-second model)."""
    if input_length == INPUT_LENGTH:
        return None
    return round((input_length / SAMPLE_RATE - PREROLL_S) * 1000, 3)


#: Bumped whenever ``preprocess`` changes what a clip turns into; a model trained
#: under another version is refused.
PREPROCESS_VERSION = 1


class Range(NamedTuple):
    """Min and max of one descriptor over the Freesound one-shot dataset."""

    low: float
    high: float


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


@dataclass(frozen=True)
class Scale:
    """Min-max ranges, in ``DESCRIPTORS`` order, between descriptor points (0-100) and
    a model's outputs: the trainer's targets use ``NORMALISATION``, the daemon the
    ranges a model file carries. Points outside 0-100 (the teacher gives a few
    negative boominess and sharpness values) are clipped: 0-100 is what is published."""

    low: np.ndarray
    span: np.ndarray

    @classmethod
    def of(cls, ranges: Mapping[str, tuple[float, float]]) -> Scale:
        low = np.array([ranges[name][0] for name in DESCRIPTORS])
        high = np.array([ranges[name][1] for name in DESCRIPTORS])
        return cls(low, high - low)

    def normalise(self, points: np.ndarray) -> np.ndarray:
        """Points (0-100) to the model's scale."""
        return (np.clip(points, 0.0, 100.0) - self.low) / self.span

    def points(self, values: np.ndarray) -> np.ndarray:
        """The model's scale to points, clipped to 0-100."""
        return np.clip(self.low + values * self.span, 0.0, 100.0)


#: The scale the trainer's targets are on.
LABEL_SCALE = Scale.of(NORMALISATION)


class ModelContractError(ValueError):
    """A model file this daemon cannot honour; the message says what and why."""


#: The version of ``ModelContract``'s JSON; a file written in another is refused.
CONTRACT_FORMAT = 1


@dataclass(frozen=True)
class SelfTest:
    """What the exporter saw the model give for the probe inputs of
    ``selftest.probes`` (version ``probes``): one row per probe, in the model's own
    output units, and how far from them a runtime may land (``daemon/selftest.py``)."""

    expected: tuple[tuple[float, ...], ...]
    tolerance: float
    probes: int

    @classmethod
    def from_json(cls, body: Any) -> SelfTest | None:
        if body is None:
            return None
        try:
            test = cls(
                expected=tuple(tuple(float(v) for v in row) for row in body["expected"]),
                tolerance=float(body["tolerance"]),
                probes=int(body["probes"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelContractError(f"the model's self-test is malformed ({exc})") from exc
        if not test.expected or len({len(row) for row in test.expected}) != 1:
            raise ModelContractError("the model's self-test is malformed (ragged expectations)")
        return test


@dataclass(frozen=True)
class ModelContract:
    """What a model expects and what it produces: the file's promise to the daemon."""

    model_id: str
    architecture: str
    descriptors: tuple[str, ...]
    normalisation: dict[str, tuple[float, float]]
    sample_rate: int
    input_length: int
    preprocess_version: int
    #: For early-estimate models: how many milliseconds of the hit they read.
    early_ms: float | None = None
    training_data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: Exported before timbrecast had self-tests: None, and the model loads untested.
    self_test: SelfTest | None = None
    format: int = CONTRACT_FORMAT

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ModelContract:
        try:
            body = json.loads(raw)
            body["descriptors"] = tuple(body["descriptors"])
            body["normalisation"] = {k: tuple(v) for k, v in body["normalisation"].items()}
            body["self_test"] = SelfTest.from_json(body.get("self_test"))
            return cls(**body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelContractError(f"the model's contract is malformed ({exc})") from exc

    def check(self) -> None:
        """Refuse what the daemon cannot honour, naming the mismatch."""
        problems = []
        if self.format != CONTRACT_FORMAT:
            problems.append(f"contract format {self.format} (this daemon reads {CONTRACT_FORMAT})")
        if not the_seven(self.descriptors):
            problems.append(f"descriptors {list(self.descriptors)} are not the seven")
        if set(self.normalisation) != set(self.descriptors):
            problems.append("normalisation ranges do not cover the descriptors")
        if self.sample_rate != SAMPLE_RATE:
            problems.append(f"sample rate {self.sample_rate} Hz (this daemon feeds {SAMPLE_RATE})")
        wanted = INPUT_LENGTH if self.early_ms is None else early_length(self.early_ms)
        if self.input_length != wanted:
            problems.append(f"input length {self.input_length} (this daemon feeds {wanted})")
        if self.preprocess_version != PREPROCESS_VERSION:
            problems.append(
                f"preprocessing v{self.preprocess_version} (this daemon has v{PREPROCESS_VERSION})"
            )
        if problems:
            raise ModelContractError("model cannot be honoured: " + "; ".join(problems))
