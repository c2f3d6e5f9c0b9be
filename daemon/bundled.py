"""Files that ship inside the package: the default model and the demo recording."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _files(folder: str, suffix: str) -> list[Path]:
    root = resources.files("timbrecast.daemon") / folder
    if not root.is_dir():
        return []
    return sorted(Path(str(entry)) for entry in root.iterdir() if entry.name.endswith(suffix))


def models() -> list[Path]:
    """Bundled ``.tflite`` models, the default one among them once it ships."""
    return _files("models", ".tflite")


def demo_recordings() -> list[Path]:
    """Bundled demo recordings (redistributable; see ``docs/demo.md``)."""
    return _files("demo", ".flac")
