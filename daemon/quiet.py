"""Silencing what native libraries print straight to the process's stderr.

PortAudio's ALSA and JACK probes print dozens of lines while they look for
devices, and LiteRT announces its XNNPACK delegate; neither is an error, and both
would bury the daemon's one-line messages. Real failures still surface as Python
exceptions, which is where the daemon reports them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """File descriptor 2 goes to /dev/null for the duration."""
    saved = os.dup(2)
    with open(os.devnull, "wb") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
