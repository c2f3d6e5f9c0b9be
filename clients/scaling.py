"""Level and descriptor scaling shared by the OSC and MIDI bridges.

One documented mapping for both, so that a patch driven over OSC and a DAW
driven over MIDI hear the same hit as equally loud and equally bright.
"""

from __future__ import annotations

from collections.abc import Mapping

from timbrecast.daemon.protocol import DESCRIPTORS

#: Peak level (dBFS) that maps to the lowest velocity. The daemon's onset floor
#: is -70 dBFS on a frame's RMS; the quietest hits it lets through peak near -60.
DEFAULT_FLOOR_DB = -60.0


def loudness(peak_dbfs: float, floor_db: float = DEFAULT_FLOOR_DB) -> float:
    """A hit's peak level as 0..1, linear in dB from ``floor_db`` (0) to 0 dBFS (1).

    Linear in dB because that is how loudness is heard, and how drum modules
    map velocity to gain.
    """
    if not floor_db < 0:
        raise ValueError(f"the velocity floor must be below 0 dBFS, got {floor_db}")
    return min(1.0, max(0.0, (peak_dbfs - floor_db) / -floor_db))


def midi_velocity(peak_dbfs: float, floor_db: float = DEFAULT_FLOOR_DB) -> int:
    """1..127: never 0, which MIDI reads as a note-off."""
    return 1 + round(126 * loudness(peak_dbfs, floor_db))


def ordered(descriptors: Mapping[str, float]) -> list[float]:
    """The seven values in the documented order (hardness ... boominess), clamped to 0..100.

    The model can overshoot its training range by a little; a synth parameter
    should never see -0.3 or 100.4.
    """
    return [min(100.0, max(0.0, float(descriptors[name]))) for name in DESCRIPTORS]
