"""Reading audio files into float32 frames, with errors a person can act on."""

from __future__ import annotations

import errno
import os
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


class InputMissing(FileNotFoundError):
    """A path named on the command line is not there; the message says how."""


@dataclass(frozen=True)
class Expansion:
    """The audio files of the paths named, and the folders that could not be read."""

    files: list[Path]
    unreadable: list[str]


def missing(path: Path) -> str | None:
    """Why a named path cannot be opened at all, or None if it is there."""
    if path.exists():
        return None
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:  # Python before 3.13
            return f"{path}: symbolic link loop"
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return f"{path}: symbolic link loop"
        return f"{path}: dangling symbolic link (to {os.readlink(path)})"
    return f"{path}: no such file or directory"


def expand(paths: list[Path]) -> Expansion:
    """The files named, and the audio files below the folders named, in order.

    A named path that is not there is an ``InputMissing``; a subfolder that
    cannot be listed is reported in ``unreadable``, never skipped without a word.
    """
    for path in paths:
        problem = missing(path)
        if problem:
            raise InputMissing(problem)
    found: list[Path] = []
    unreadable: list[str] = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue

        def refused(error: OSError) -> None:
            unreadable.append(f"{error.filename}: {error.strerror}")

        for folder, subfolders, names in os.walk(path, onerror=refused):
            subfolders.sort()
            found += [Path(folder, n) for n in sorted(names) if Path(n).suffix.lower() in SUFFIXES]
    return Expansion(found, unreadable)


def check_readable(path: Path) -> None:
    """``AudioFileError`` saying why ``path`` cannot be opened (libsndfile would only
    say "System error"), or nothing if it can."""
    if not path.is_file():
        raise AudioFileError(missing(path) or f"{path}: not a file")
    if not os.access(path, os.R_OK):
        raise AudioFileError(f"{path}: permission denied")


def read(path: str | Path) -> Audio:
    """Decode any format libsndfile reads (WAV, AIFF, FLAC, OGG, MP3, ...)."""
    check_readable(Path(path))
    try:
        frames, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioFileError(f"{path}: not readable as audio ({exc})") from exc
    except OSError as exc:
        raise AudioFileError(f"{path}: {exc.strerror or exc}") from exc
    return Audio(frames=frames, sample_rate=int(rate))
