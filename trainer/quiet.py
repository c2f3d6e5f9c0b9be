"""Keep TensorFlow's own chatter off the terminal, so a command's result is what shows.

TensorFlow's C++ side writes to file descriptor 2 whatever ``TF_CPP_MIN_LOG_LEVEL``
says (the oneDNN notice, absl's "before InitializeLog" line, the converter's
settings and an ``E0000`` line about a dataset attribute), and Keras's export
prints every traced signature on stdout. While TensorFlow works, both go to a
temporary file, shown only if the work fails; ``--verbose`` leaves them alone.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def tensorflow_output(verbose: bool, stdout: bool = False) -> Iterator[None]:
    """Hold back what is written to fd 2 (and, with ``stdout``, Python's stdout)."""
    if verbose:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed) if stdout else contextlib.nullcontext():
                yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(printed.getvalue() + log.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
