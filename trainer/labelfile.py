"""A user's own labels for their clips: a CSV with a ``path`` column and the seven
descriptors (0-100), as ``trainer label`` writes it or as a person fills it in.

``trainer dataset build --user DIR --labels FILE`` takes these values for the
clips of DIR that the file names, instead of asking the teacher: human ratings
on the descriptors' scale, or the teacher's labels made elsewhere. Every row
must be usable; a file with one bad row is refused whole, with the line named,
since a silently skipped label is a clip trained on the wrong target.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from timbrecast.daemon.contract import DESCRIPTORS


class LabelFileError(ValueError):
    """The labels CSV cannot be used; the message names the file, line and problem."""


def read(path: Path, relative_to: Path | None = None) -> dict[str, tuple[float, ...]]:
    """Resolved audio path -> seven labels in ``DESCRIPTORS`` order.

    Relative paths in the file are taken from ``relative_to`` (the working
    directory by default: ``trainer label`` writes them as they were given).
    """
    base = relative_to or Path.cwd()
    try:
        # utf-8-sig: a spreadsheet saves its CSV with a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = [(reader.line_num, row) for row in reader]
            header = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelFileError(f"{path}: not a readable CSV ({exc})") from exc
    missing = [c for c in ("path", *DESCRIPTORS) if c not in header]
    if not rows:
        raise LabelFileError(f"{path}: no rows (expected a header: path,{','.join(DESCRIPTORS)})")
    if missing:
        raise LabelFileError(f"{path}: no column {', '.join(missing)}")
    labels: dict[str, tuple[float, ...]] = {}
    for line, row in rows:
        if not row["path"]:
            raise LabelFileError(f"{path}:{line}: empty path")
        values = []
        for name in DESCRIPTORS:
            try:
                value = float(row[name])
            except (TypeError, ValueError):
                raise LabelFileError(
                    f"{path}:{line}: {name} {row[name]!r} is not a number"
                ) from None
            if not math.isfinite(value) or not 0.0 <= value <= 100.0:
                raise LabelFileError(f"{path}:{line}: {name} {value} is outside 0-100")
            values.append(value)
        key = str((base / row["path"]).resolve())
        if key in labels:
            raise LabelFileError(f"{path}:{line}: {row['path']} is labelled twice")
        labels[key] = tuple(values)
    return labels
