"""timbrecast's daemon: the pipeline, its runtime and the wire protocol.

``analyze`` and ``Hit`` (``timbrecast.daemon.analysis``) are the library's way in;
they are loaded on first use, so that a client importing only the protocol module
pulls in no audio libraries.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Hit", "analyze"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from timbrecast.daemon import analysis

        return getattr(analysis, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
