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
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from timbrecast.daemon.config import ConfigError, Settings
from timbrecast.daemon.inputs import Block
from timbrecast.daemon.live import LiveInput, LiveInputError
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
    drops = getattr(pipeline.sink, "drops", 0)
    return (
        f"{pipeline.state}; {hits} hits, {drops} drops, {pipeline.overruns} overruns; "
        f"model {pipeline.model.model_id}"
    )


class Service:
    """Runs one input through one pipeline until the input ends or a stop is asked."""

    def __init__(
        self,
        pipeline: Pipeline,
        source: Iterable[Block],
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
        while not self.control.stop.is_set():
            self._feed()
            if self.control.stop.is_set() or not isinstance(self.source, LiveInput):
                break
            self._recover(self.source)
        self.notifier.stopping()
        self.pipeline.finish(SHUTDOWN if self.control.stop.is_set() else END_OF_INPUT)

    def _feed(self) -> None:
        for block in self.source:
            self.pipeline.process(block.frames, block.unix_ns)
            if isinstance(self.source, LiveInput):
                self.pipeline.overruns = self.source.overruns
            if not self._ready:
                self._ready = True
                self.notifier.ready(status_line(self.pipeline))
            self.notifier.tick(status_line(self.pipeline))
            if self.control.reload.is_set():
                self.control.reload.clear()
                self._reload()
            if self.control.stop.is_set():
                return

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
                    f"reloaded: threshold {wanted.threshold}, floor {wanted.floor_db} dBFS, "
                    f"min interval {wanted.min_interval} s"
                )
        self.notifier.reloaded(status_line(self.pipeline))

    def _recover(self, lost: LiveInput) -> None:
        """Finish what was heard, then reopen the device with backoff until it returns."""
        reason = lost.error or "stream stopped"
        self.pipeline.overruns = lost.overruns
        lost.close()
        self.pipeline.interrupt()
        self.pipeline.state = f"input lost: {reason}"
        log(f"input {lost.device.name!r} lost ({reason}); retrying")
        attempt = 0
        while not self.control.stop.is_set():
            self.pipeline.tick()
            self.notifier.tick(status_line(self.pipeline))
            self.control.stop.wait(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1
            try:
                source = lost.reopened()
            except LiveInputError as exc:
                self.pipeline.state = f"input lost: {exc}"
                continue
            source.overruns = lost.overruns
            self.source = source
            self.pipeline.state = "running"
            log(f"input {source.device.name!r} back after {attempt} attempt(s)")
            return
