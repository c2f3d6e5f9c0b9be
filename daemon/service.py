"""``timbrecastd run``: the pipeline as a long-running service.

The loop feeds each block of the input to the pipeline and, between blocks,
does what a service must: it tells systemd how it is (``READY`` once audio
flows, ``STATUS``, watchdog pings from this very loop), applies ``SIGHUP``
reloads of the detection settings, and stops on ``SIGTERM``/``SIGINT`` after
describing and publishing the hits already cut. When a capture device goes away
(a USB interface unplugged, a PulseAudio source removed) the hits heard so far
are finished, status says ``input lost``, and the device is reopened with
backoff until it returns; the process never restarts for it.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from timbrecast.daemon.config import ConfigError, Settings
from timbrecast.daemon.inputs import Input
from timbrecast.daemon.live import LiveInputError
from timbrecast.daemon.notify import Notifier
from timbrecast.daemon.pipeline import Pipeline
from timbrecast.daemon.protocol import END_OF_INPUT, SHUTDOWN

BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass
class Control:
    """What signal handlers ask of the loop; checked between blocks."""

    stop: threading.Event
    reload: threading.Event

    @classmethod
    def install(cls) -> Control:
        control = cls(threading.Event(), threading.Event())
        signal.signal(signal.SIGTERM, lambda *_: control.stop.set())
        signal.signal(signal.SIGINT, lambda *_: control.stop.set())
        if hasattr(signal, "SIGHUP"):  # not on Windows, where there is no reload signal
            signal.signal(signal.SIGHUP, lambda *_: control.reload.set())
        return control


def log(message: str) -> None:
    """One line to stderr, which systemd puts in the journal."""
    print(f"timbrecastd: {message}", file=sys.stderr, flush=True)


def status_line(pipeline: Pipeline) -> str:
    hits = sum(c.counters.hits for c in pipeline.channels)
    return (
        f"{pipeline.state}; {hits} hits, {pipeline.health.drops()} drops, "
        f"{pipeline.health.overruns()} overruns; model {pipeline.model.model_id}"
    )


class Service:
    """Runs one input through one pipeline until the input ends or a stop is asked."""

    def __init__(
        self,
        pipeline: Pipeline,
        source: Input,
        settings: Settings,
        reread: Callable[[], Settings],
        notifier: Notifier | None = None,
        control: Control | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.source = source
        self.settings = settings
        self.reread = reread
        self.notifier = notifier or Notifier()
        self.control = control or Control(threading.Event(), threading.Event())
        self._ready = False

    def run(self) -> None:
        """Feed the pipeline (entered by the caller) until the end or a stop."""
        while not self.control.stop.is_set():
            self.pipeline.feed(self.source, self._between_blocks)
            if self.control.stop.is_set() or not self.source.recoverable:
                break
            self._recover()
        self.notifier.stopping()
        self.pipeline.finish(SHUTDOWN if self.control.stop.is_set() else END_OF_INPUT)

    def _status(self) -> str:
        return status_line(self.pipeline)

    def _between_blocks(self) -> bool:
        """A service's chores after each block; False once a stop is asked."""
        if not self._ready:
            self._ready = True
            self.notifier.ready(self._status())
        self.notifier.tick(self._status)
        if self.control.reload.is_set():
            self.control.reload.clear()
            self._reload()
        return not self.control.stop.is_set()

    def _reload(self) -> None:
        """Apply new detection settings, or refuse a change that needs a restart."""
        self.notifier.reloading()
        try:
            wanted = self.reread()
        except ConfigError as exc:
            log(f"reload refused, settings unchanged: {exc}")
        except Exception as exc:  # a reload must never take the service down
            log(f"reload refused, settings unchanged: {type(exc).__name__}: {exc}")
        else:
            changed = self.settings.needs_restart(wanted)
            if changed:
                log(f"reload refused, settings unchanged: {', '.join(changed)} need a restart")
            else:
                self.settings = wanted
                self.pipeline.reload(wanted.detector)
                log(
                    f"reloaded: activation {wanted.activation}, threshold {wanted.threshold}, "
                    f"floor {wanted.floor_db} dBFS, min interval {wanted.min_interval} s"
                )
        self.notifier.reloaded(self._status())

    def _recover(self) -> None:
        """Finish what was heard, then reopen the input with backoff until it returns."""
        reason = self.source.error or "stream stopped"
        self.source.close()
        self.pipeline.interrupt(reason)
        log(f"input {self.source} lost ({reason}); retrying")
        attempt = 0
        while not self.control.stop.is_set():
            self.pipeline.tick()
            self.notifier.tick(self._status)
            self.control.stop.wait(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1
            try:
                self.source.reopen()
            except LiveInputError as exc:
                self.pipeline.interrupt(str(exc))
                continue
            self.pipeline.resume()
            log(f"input {self.source} back after {attempt} attempt(s)")
            return
