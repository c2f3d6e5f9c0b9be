"""``timbrecast-listen``: watch the daemons live, or print their events as JSON lines.

The live view is for the person at the drum kit checking that hits arrive and
what the model makes of them; ``--jsonl`` is for scripts (``jq``, a log file).
Only the live view needs ``rich``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from timbrecast.clients import _cli
from timbrecast.clients.subscriber import (
    ITEM_KINDS,
    Back,
    Counters,
    End,
    Item,
    Onset,
    Silent,
    Status,
    Subscriber,
    Timbre,
)
from timbrecast.daemon.protocol import DESCRIPTORS, KINDS

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

PROG = "timbrecast-listen"
#: Hit rate is counted over this window: long enough to be steady, short enough
#: to follow a change of tempo.
RATE_WINDOW_S = 10.0
REFRESH_S = 0.1

DESCRIPTION = """\
Show what timbrecast daemons publish: per source, the last hit's seven
descriptors as bars, the hit rate, the model's latency and the daemon's status.
With --jsonl, print one JSON object per event instead ("kind" is onset, timbre,
status, end, or silent/back when a source's heartbeat stops and resumes).
Both stop once every source has ended its input (a file or stdin), or on Ctrl-C.
"""

EPILOG = f"""\
examples:
  timbrecast-listen
  timbrecast-listen --connect tcp://pi1.local:5556 --connect tcp://pi2.local:5556
  timbrecast-listen --jsonl --kind timbre --final | jq .descriptors.brightness

{_cli.STATUSES}
"""


def as_json(item: Item) -> dict[str, Any]:
    """An item as a JSON-ready dict: ``kind`` first, then the fields as on the wire."""
    return {"kind": item.kind, **asdict(item)}


@dataclass
class SourceView:
    """What the live view knows about one source."""

    name: str
    status: Status | None = None
    timbre: Timbre | None = None
    hits: deque[float] = field(default_factory=deque)
    last_seq: int | None = None
    silent_since: float | None = None
    #: Why the source ended (its ``end`` message), until it is heard again.
    ended: str | None = None

    def hit(self, seq: int, now: float) -> None:
        """Count a hit once, whether its onset or only its timbre was subscribed to."""
        if seq != self.last_seq:
            self.last_seq = seq
            self.hits.append(now)

    def rate(self, now: float) -> float:
        while self.hits and now - self.hits[0] > RATE_WINDOW_S:
            self.hits.popleft()
        return len(self.hits) / RATE_WINDOW_S


class View:
    """The live view's state, updated from the subscriber's items (no I/O)."""

    def __init__(self) -> None:
        self.sources: dict[str, SourceView] = {}

    def update(self, item: Item, now: float) -> None:
        view = self.sources.setdefault(item.source, SourceView(item.source))
        view.ended = item.reason if isinstance(item, End) else None
        if isinstance(item, Silent):
            view.silent_since = now - item.silent_s
        elif isinstance(item, Back):
            view.silent_since = None
        elif isinstance(item, Status):
            view.status = item
        elif isinstance(item, Onset):
            view.hit(item.seq, now)
        elif isinstance(item, Timbre):
            view.hit(item.seq, now)
            view.timbre = item

    def render(self, counters: Counters, last_error: str | None, now: float) -> RenderableType:
        from rich.console import Group
        from rich.text import Text

        parts = [_panel(view, now) for _, view in sorted(self.sources.items())]
        if not parts:
            parts.append(Text("waiting for a daemon...", style="dim"))
        footer = f"{counters.delivered} events"
        if counters.missed:
            footer += f", {counters.missed} hits missed (gaps in seq)"
        skipped = counters.malformed + counters.unknown_version
        if skipped:
            footer += (
                f", skipped {counters.malformed} malformed and "
                f"{counters.unknown_version} of another schema version (last: {last_error})"
            )
        warn = skipped or counters.missed
        parts.append(Text(footer, style="yellow" if warn else "dim"))
        return Group(*parts)


def _panel(view: SourceView, now: float) -> RenderableType:
    """One source: state in the title, rate and last hit, seven bars, the daemon's counters.

    Built from ``Text`` rather than markup: a source name or a daemon's state
    string may contain brackets.
    """
    from rich.bar import Bar
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    lines: list[RenderableType] = []
    summary = f"{view.rate(now):.1f} hits/s over {RATE_WINDOW_S:g} s"
    timbre = view.timbre
    if timbre is not None:
        summary += (
            f"   last hit #{timbre.seq}: {timbre.peak_dbfs:.1f} dBFS peak, "
            f"latency {timbre.latency_ms:.1f} ms" + (" (provisional)" if timbre.provisional else "")
        )
    lines.append(Text(summary))
    if timbre is not None:
        bars = Table.grid(padding=(0, 1), expand=True)
        bars.add_column(width=10)
        bars.add_column(ratio=1)
        bars.add_column(justify="right", width=5)
        for name in DESCRIPTORS:
            value = timbre.descriptors[name]
            bars.add_row(name, Bar(100, 0, value, color="cyan"), f"{value:.1f}")
        lines.append(bars)
    if view.status is not None:
        s = view.status
        lines.append(
            Text(
                f"daemon: {s.hits} hits, {s.drops} dropped, {s.overruns} overruns, "
                f"{s.skipped} skipped, queue {s.queue_depth}, inference {s.inference_ms:.1f} ms, "
                f"up {s.uptime_s:.0f} s, model {s.model_id}",
                style="dim",
            )
        )
    title = Text.assemble((view.name, "bold"), "  ", _state(view, now))
    return Panel(Group(*lines), title=title, title_align="left")


def _state(view: SourceView, now: float) -> Text:
    from rich.text import Text

    if view.ended is not None:
        return Text(f"ended ({view.ended})", style="yellow")
    if view.silent_since is not None:
        return Text(f"silent for {now - view.silent_since:.0f} s", style="red")
    if view.status is None:
        return Text("no status yet", style="dim")
    if view.status.state != "running":
        return Text(view.status.state, style="red")
    return Text("running", style="green")


def wanted(item: Item, kinds: list[str] | None, final: bool) -> bool:
    """Whether ``--kind`` and ``--final`` let an item through to the JSON lines."""
    if kinds is not None and item.kind not in kinds:
        return False
    return not (final and isinstance(item, Timbre) and item.provisional)


def print_jsonl(subscriber: Subscriber, args: argparse.Namespace, out: TextIO) -> None:
    """One compact JSON object per line, flushed at once for a pipe reader."""

    stop = _cli.stop_on_signals()
    written = 0

    def write(item: Item) -> None:
        nonlocal written
        if wanted(item, args.kind, args.final):
            out.write(json.dumps(as_json(item), separators=(",", ":")) + "\n")
            out.flush()
            written += 1
            if args.count is not None and written >= args.count:  # --count counts lines
                stop.set()

    subscriber.run(write, stop=stop)


def show_live(subscriber: Subscriber, args: argparse.Namespace) -> None:
    """Redraw at most every ``REFRESH_S`` from this thread (rich's own refresh thread
    would read the view while it changes)."""
    from rich.live import Live

    view = View()
    stop = _cli.stop_on_signals()

    def draw(now: float) -> None:
        live.update(view.render(subscriber.counters, subscriber.last_error, now), refresh=True)

    with Live(auto_refresh=False) as live:
        drawn = 0.0
        while _cli.going(subscriber, stop, args.count):
            item = subscriber.recv(REFRESH_S)
            now = time.monotonic()
            if item is not None:
                view.update(item, now)
            if now - drawn >= REFRESH_S:
                draw(now)
                drawn = now
        draw(time.monotonic())


def build_parser() -> _cli.Parser:
    parser = _cli.Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--jsonl", action="store_true", help="print JSON lines, no live view")
    parser.add_argument(
        "--kind",
        action="append",
        choices=list(ITEM_KINDS),
        help="only this kind of event; repeat for several (default: all). silent and back "
        "are this client's notices when a source's heartbeat stops and resumes",
    )
    parser.add_argument(
        "--final",
        action="store_true",
        help="leave out provisional (early) timbre estimates: one timbre per hit",
    )
    _cli.add_subscriber_args(parser)
    return parser


def listen(args: argparse.Namespace) -> int:
    if not args.jsonl:
        _cli.require("rich", "rich")
    protocol_kinds = [k for k in args.kind if k in KINDS] if args.kind else None
    with _cli.open_subscriber(args, kinds=protocol_kinds or None) as subscriber:
        if args.jsonl:
            print_jsonl(subscriber, args, sys.stdout)
        else:
            show_live(subscriber, args)
    return _cli.OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _cli.run(PROG, lambda: listen(args))


if __name__ == "__main__":
    sys.exit(main())
