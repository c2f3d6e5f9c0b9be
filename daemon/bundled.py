"""Files that ship inside the package: the default model and the demo recording."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


def _files(folder: str, suffix: str) -> list[Path]:
    root = resources.files("timbrecast.daemon") / folder
    if not root.is_dir():
        return []
    return sorted(Path(str(entry)) for entry in root.iterdir() if entry.name.endswith(suffix))


DEFAULT_MODEL = "seven-filters-int8.tflite"
#: The more accurate, larger model that ships beside the default (docs/model-card.md).
MEL_MODEL = "mel-cnn-int8.tflite"
EARLY_MODEL = "early-25ms-int8.tflite"
#: An earlier, rougher estimate (10 ms after the attack) for a first provisional
#: message: not on by default (docs/model-card.md).
EARLY_10MS_MODEL = "early-10ms-int8.tflite"
ONSET_MODEL = "onsets-int8.tflite"


def models() -> list[Path]:
    """Every bundled ``.tflite`` model."""
    return _files("models", ".tflite")


def model(name: str = DEFAULT_MODEL) -> Path | None:
    """A bundled model by file name (the default one unless told), if it ships."""
    return next((path for path in models() if path.name == name), None)


def resolve(spec: str | Path | None, default: str = DEFAULT_MODEL) -> Path | None:
    """A model as a user names it: a path, or a bundled model's file name
    (``mel-cnn-int8.tflite``) where no such file is at hand, so a setting works
    wherever the package is installed; unnamed (None or empty), bundled ``default``.
    Text with a directory in it (``./mine.tflite``) is always a path."""
    text = str(spec) if spec else ""
    if not text:
        return model(default)
    if "/" not in text and os.sep not in text and not Path(text).exists():
        return model(text) or Path(text)
    return Path(text)


def early_model() -> Path | None:
    """The bundled early-estimate model, if it ships."""
    return model(EARLY_MODEL)


def demo_recordings() -> list[Path]:
    """Bundled demo recordings (redistributable; see ``docs/demo.md``)."""
    return _files("demo", ".flac")
