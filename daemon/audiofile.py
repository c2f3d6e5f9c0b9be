"""Reading audio files into float32 frames, with errors a person can act on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

#: File name endings taken for audio when a folder is scanned.
SUFFIXES = frozenset({".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3"})


class AudioFileError(OSError):
    """A file that cannot be read as audio; the message names the file and why."""


@dataclass(frozen=True)
class Audio:
    """Decoded audio: ``frames`` is (frames, channels) float32 in [-1, 1]."""

    frames: np.ndarray
    sample_rate: int

    @property
    def channels(self) -> int:
        return int(self.frames.shape[1])

    @property
    def duration_s(self) -> float:
        return self.frames.shape[0] / self.sample_rate


def expand(paths: list[Path]) -> list[Path]:
    """The files named, and the audio files below the folders named, in order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += [p for p in sorted(path.rglob("*")) if p.suffix.lower() in SUFFIXES]
        else:
            found.append(path)
    return found


def read(path: str | Path) -> Audio:
    """Decode any format libsndfile reads (WAV, AIFF, FLAC, OGG, MP3, ...)."""
    if not Path(path).is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        frames, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioFileError(f"{path}: not readable as audio ({exc})") from exc
    except OSError as exc:
        raise AudioFileError(f"{path}: {exc.strerror or exc}") from exc
    return Audio(frames=frames, sample_rate=int(rate))
