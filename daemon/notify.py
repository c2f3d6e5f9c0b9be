"""systemd's notify protocol, spoken directly (no libsystemd binding on a Pi).

``Type=notify`` units get ``NOTIFY_SOCKET``; the daemon sends ``READY=1`` once
audio flows, a ``STATUS=`` line that ``systemctl status`` shows, and
``WATCHDOG=1`` pings. The pings come from the processing loop itself, so a
stalled pipeline stops them and systemd restarts the service. Outside systemd
every call does nothing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Mapping

from timbrecast.daemon.protocol import STATUS_INTERVAL_S


class Notifier:
    """Datagrams to ``$NOTIFY_SOCKET``; rate-limited status and watchdog pings."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) if address else None
        usec = environ.get("WATCHDOG_USEC")
        pid = environ.get("WATCHDOG_PID")
        mine = pid is None or pid == str(os.getpid())
        self.watchdog_s = int(usec) / 1e6 if usec and mine else None
        interval = STATUS_INTERVAL_S
        if self.watchdog_s is not None:
            interval = min(interval, self.watchdog_s / 2)
        self.interval_s = interval
        self._next = 0.0

    @property
    def active(self) -> bool:
        return self._socket is not None

    def send(self, *lines: str) -> None:
        if self._socket is None:
            return
        with contextlib.suppress(OSError):  # systemd restarting: the service goes on
            self._socket.sendto("\n".join(lines).encode(), self._address)

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def tick(self, status: Callable[[], str]) -> None:
        """Called from the processing loop after every block: sends at most every
        ``interval_s``, so ``status()`` is only asked for then."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.interval_s
        lines = [f"STATUS={status()}"]
        if self.watchdog_s is not None:
            lines.append("WATCHDOG=1")
        self.send(*lines)

    def reloading(self) -> None:
        now_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={now_us}")

    def reloaded(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping: finishing hits already cut")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
