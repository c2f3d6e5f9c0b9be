"""``timbrecast-match``: for each live hit, the sample of a tagged library whose
timbre is nearest.

A library is what ``timbrecastd analyze --oneshot DIR`` writes (``--jsonl`` or
``--csv``): one record per sample with its path and seven descriptors. It is
indexed once in a k-d tree (scipy's) in a space of chosen descriptors, each
scaled to 0-1 and multiplied by its weight, with the sample's level (RMS dBFS,
0-1 from ``DEFAULT_FLOOR_DB`` to 0) as an optional eighth dimension, so a soft
hit can prefer a soft sample. A query is one tree lookup: microseconds, even for
100,000 samples (docs/benchmarks.md).

Each hit may be matched on each of its timbres: on its first provisional one (the
early model's, 28 ms after the attack by default), so a sampler can play at once,
then on a second provisional one (with two early models) and on its final one,
each sent only if it changes the choice (``--when both``, the default). The match says
which it is. With ``-k K --random``, one of the K nearest is drawn, never the one
drawn last for the source when there is another: no machine-gun repeats; a
final keeps the provisional choice while it is still among its K nearest.

Matches go out as JSON lines, as OSC, and with ``--play`` to a ``Sampler``
(``sampler.py``) that plays each hit's first match at the hit's level.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from timbrecast.clients import _cli
from timbrecast.clients.osc import (
    DEFAULT_TARGET,
    address_part,
    check_prefix,
    dropped,
    udp_client,
)
from timbrecast.clients.sampler import BLOCK, CACHE, Sampler
from timbrecast.clients.scaling import DEFAULT_FLOOR_DB
from timbrecast.clients.subscriber import Item, Timbre
from timbrecast.daemon.protocol import DESCRIPTORS

PROG = "timbrecast-match"
PREFIX = "/timbrecast"
WHEN = ("first", "final", "both")
#: Hits whose provisional choice is remembered until their final timbre; a final
#: arrives within a few hundred ms, so this covers a fast roll on many sources.
PENDING = 1024

DESCRIPTION = """\
For each hit a daemon publishes, pick the sample of a tagged library whose
timbre is nearest, and say so: JSON lines on standard output, and with --to an
OSC message to a sampler:
  /timbrecast/<source>/match  path index distance stage seq first
where index is the sample's record in the library (from 0), distance is in the
weighted descriptor space (0-1 per descriptor times its weight), stage is
"provisional" or "final" and seq the hit's number (a final that changes a
provisional choice has the same seq). Tag the library first:
  timbrecastd analyze --oneshot ~/samples --jsonl library.jsonl
"""

EPILOG = f"""\
examples:
  timbrecast-match library.jsonl
  timbrecast-match library.csv --to 127.0.0.1:57120 --when final
  timbrecast-match library.jsonl --descriptors brightness,hardness --weight brightness=2
  timbrecast-match library.jsonl -k 4 --random --level 0.5

{_cli.STATUSES}
"""


@dataclass(frozen=True)
class Sample:
    """One library record: where the sample is, its timbre and its level."""

    path: str
    descriptors: tuple[float, ...]
    rms_dbfs: float


@dataclass(frozen=True)
class Library:
    """The samples of a tagged library, and the records that could not be read."""

    samples: list[Sample]
    skipped: list[str]


def load_library(path: Path) -> Library:
    """The records of ``analyze --oneshot``'s JSONL or (by its ``.csv`` suffix) CSV.

    A record without a path or one of the seven descriptors is skipped and said
    so (line number and why); a library with no usable record is ``BadConfig``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _cli.BadConfig(f"library {path}: cannot read it ({exc})") from exc
    if path.suffix.lower() == ".csv":
        lines = csv.DictReader(text.splitlines())
        records = [(number, row) for number, row in enumerate(lines, start=2)]
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append((number, json.loads(line)))
                except json.JSONDecodeError:
                    records.append((number, None))
    samples, skipped = [], []
    for number, record in records:
        try:
            samples.append(_sample(record))
        except (TypeError, KeyError, ValueError) as exc:
            skipped.append(f"{path}:{number}: {exc}")
    if not samples:
        raise _cli.BadConfig(
            f"library {path}: no sample records (write one with "
            "`timbrecastd analyze --oneshot DIR --jsonl FILE`)"
        )
    return Library(samples, skipped)


def _sample(record: Any) -> Sample:
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    values = record.get("descriptors", record)
    if not isinstance(values, dict):
        raise ValueError("descriptors is not an object")
    missing = [name for name in DESCRIPTORS if name not in values]
    if "file" not in record or missing:
        raise KeyError(f"no {', '.join(missing) or 'file'}")
    descriptors = tuple(float(values[name]) for name in DESCRIPTORS)
    rms = float(record.get("rms_dbfs", 0.0))
    if not all(math.isfinite(v) for v in (*descriptors, rms)):
        raise ValueError("a value is not a finite number")
    return Sample(str(record["file"]), descriptors, rms)


@dataclass(frozen=True)
class Space:
    """Which descriptors count, how much each weighs, and the level's weight (0: not
    a dimension)."""

    descriptors: tuple[str, ...] = DESCRIPTORS
    weights: tuple[float, ...] = (1.0,) * len(DESCRIPTORS)
    level: float = 0.0
    floor_db: float = DEFAULT_FLOOR_DB

    def points(self, values: np.ndarray, rms_dbfs: np.ndarray) -> np.ndarray:
        """Where timbres lie: ``values`` (n, 7) in ``DESCRIPTORS`` order, 0-100, and
        their levels (n,)."""
        columns = [DESCRIPTORS.index(name) for name in self.descriptors]
        points = np.clip(np.asarray(values, dtype=np.float64)[:, columns] / 100.0, 0.0, 1.0)
        points *= self.weights
        if self.level:
            level = np.clip((np.asarray(rms_dbfs) - self.floor_db) / -self.floor_db, 0.0, 1.0)
            points = np.column_stack([points, level * self.level])
        return points

    def point(self, descriptors: dict[str, float], rms_dbfs: float) -> np.ndarray:
        """Where one timbre (values 0-100 by name) lies."""
        values = np.array([[descriptors[name] for name in DESCRIPTORS]])
        return self.points(values, np.array([rms_dbfs]))[0]


@dataclass(frozen=True)
class Match:
    """The sample chosen for a hit, at one stage of it."""

    source: str
    seq: int
    stage: str
    index: int
    path: str
    distance: float
    stream_time_s: float
    unix_ns: int
    peak_dbfs: float
    #: The hit's first match: what a sampler plays (a sound cannot be taken back).
    first: bool
    #: The k nearest samples, (index, distance), nearest first: the choice among them
    #: is the caller's too.
    nearest: tuple[tuple[int, float], ...]


class Matcher:
    """The library in a k-d tree; ``nearest`` gives the ``k`` closest samples."""

    def __init__(self, library: Library, space: Space) -> None:
        _cli.require("scipy", "scipy")
        from scipy.spatial import KDTree

        self.samples = library.samples
        self.space = space
        values = np.array([sample.descriptors for sample in self.samples])
        levels = np.array([sample.rms_dbfs for sample in self.samples])
        self._tree = KDTree(space.points(values, levels))

    def nearest(self, timbre: dict[str, float], rms_dbfs: float, k: int) -> list[tuple[int, float]]:
        """(index, distance) of the ``k`` nearest samples, nearest first."""
        k = min(k, len(self.samples))
        distances, indices = self._tree.query(self.space.point(timbre, rms_dbfs), k=k)
        return list(
            zip(np.atleast_1d(indices).tolist(), np.atleast_1d(distances).tolist(), strict=True)
        )


class Chooser:
    """Turns timbre events into matches: which stages to answer (``when``), how to
    pick among the ``k`` nearest (the first, or ``random``), and what to remember
    between a hit's provisional and final timbre."""

    def __init__(
        self,
        matcher: Matcher,
        k: int = 1,
        pick_random: bool = False,
        when: str = "both",
        seed: int | None = None,
    ) -> None:
        if when not in WHEN:
            raise ValueError(f"when must be one of {', '.join(WHEN)}")
        self.matcher = matcher
        self.k = max(1, k)
        self.pick_random = pick_random
        self.when = when
        self._random = random.Random(seed)
        self._last: dict[str, int] = {}
        # A hit is known by its source, seq and attack time: a daemon that restarts
        # counts seq from 0 again.
        self._pending: OrderedDict[tuple[str, int, int], int] = OrderedDict()

    def __call__(self, item: Item) -> Match | None:
        if not isinstance(item, Timbre):
            return None
        key = (item.source, item.seq, item.unix_ns)
        if item.provisional and self.when == "final":
            return None
        # A hit's later estimates (a second provisional one, the final) answer only
        # when they change its choice.
        earlier = self._pending.get(key) if item.provisional else self._pending.pop(key, None)
        if earlier is not None and self.when == "first":
            return None
        candidates = self.matcher.nearest(item.descriptors, item.rms_dbfs, self.k)
        if earlier is not None and earlier in [index for index, _ in candidates]:
            return None
        chosen = self._pick(item.source, candidates)
        if item.provisional:
            self._pending[key] = chosen[0]
            while len(self._pending) > PENDING:
                self._pending.popitem(last=False)
        stage = "provisional" if item.provisional else "final"
        return self._match(item, stage, chosen, candidates, first=earlier is None)

    def _pick(self, source: str, candidates: list[tuple[int, float]]) -> tuple[int, float]:
        if not self.pick_random:
            chosen = candidates[0]
        else:
            fresh = [c for c in candidates if c[0] != self._last.get(source)] or candidates
            chosen = self._random.choice(fresh)
        self._last[source] = chosen[0]
        return chosen

    def _match(
        self,
        item: Timbre,
        stage: str,
        chosen: tuple[int, float],
        candidates: list[tuple[int, float]],
        first: bool,
    ) -> Match:
        index, distance = chosen
        return Match(
            item.source,
            item.seq,
            stage,
            index,
            self.matcher.samples[index].path,
            distance,
            item.stream_time_s,
            item.unix_ns,
            item.peak_dbfs,
            first,
            tuple(candidates),
        )


class Outputs:
    """Where matches go: JSON lines (``out``), OSC (``send``), a ``Sampler`` (each
    hit's first match only). A refused OSC send is dropped and counted, never
    retried."""

    def __init__(
        self,
        out: TextIO | None,
        send: Callable[[str, list[Any]], None] | None,
        prefix: str = PREFIX,
        sampler: Sampler | None = None,
        gain_db: float = 0.0,
    ) -> None:
        self._out = out
        self._send = send
        self.prefix = prefix.rstrip("/")
        self._sampler = sampler
        self._gain_db = gain_db
        self.dropped = 0

    def __call__(self, match: Match) -> None:
        if self._out is not None:
            self._out.write(json.dumps(asdict(match)) + "\n")
            self._out.flush()
        if self._send is not None:
            address = f"{self.prefix}/{address_part(match.source)}/match"
            first = int(match.first)
            args = [match.path, match.index, match.distance, match.stage, match.seq, first]
            try:
                self._send(address, args)
            except OSError as exc:
                self.dropped = dropped(PROG, self.dropped, 1, exc)
        # Last: without --preload, a sample's first use reads its file.
        if self._sampler is not None and match.first:
            gain = min(1.0, 10.0 ** ((match.peak_dbfs + self._gain_db) / 20.0))
            self._sampler.play(match.path, gain, match.unix_ns)


def parse_weights(items: Sequence[str], names: Sequence[str]) -> tuple[float, ...]:
    """``NAME=W`` pairs as a weight per name in ``names`` (1 where not given)."""
    weights = dict.fromkeys(names, 1.0)
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in weights:
            raise _cli.BadConfig(
                f"--weight {item!r}: not NAME=W with NAME one of {', '.join(names)}"
            )
        try:
            weights[name] = float(value)
        except ValueError:
            raise _cli.BadConfig(f"--weight {item!r}: {value!r} is not a number") from None
        if not weights[name] >= 0:
            raise _cli.BadConfig(f"--weight {item!r}: a weight is 0 or more")
    return tuple(weights[name] for name in names)


def space_of(args: argparse.Namespace) -> Space:
    names = tuple(args.descriptors.split(",")) if args.descriptors else DESCRIPTORS
    unknown = [name for name in names if name not in DESCRIPTORS]
    if unknown or len(set(names)) != len(names):
        raise _cli.BadConfig(
            f"--descriptors {args.descriptors!r}: each of {', '.join(DESCRIPTORS)}, once"
        )
    if not args.level >= 0:
        raise _cli.BadConfig(f"--level {args.level:g}: a weight is 0 or more")
    return Space(names, parse_weights(args.weight, names), args.level)


def build_parser() -> _cli.Parser:
    parser = _cli.Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument(
        "library", type=Path, help="`timbrecastd analyze --oneshot` output (.jsonl or .csv)"
    )
    space = parser.add_argument_group("matching")
    space.add_argument(
        "--descriptors",
        metavar="NAMES",
        help="comma-separated descriptors that count (default: all seven)",
    )
    space.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="NAME=W",
        help="weigh a descriptor W times (default 1); repeatable",
    )
    space.add_argument(
        "--level",
        type=float,
        default=0.0,
        metavar="W",
        help="the sample's level as a dimension of weight W (default 0: level does not count)",
    )
    space.add_argument(
        "-k",
        type=int,
        default=1,
        help="how many nearest samples to consider (default 1): each JSON line lists them "
        "(nearest); with --random one is drawn; a final keeps the provisional choice while "
        "it is among its k nearest",
    )
    space.add_argument(
        "--random",
        action="store_true",
        help="pick one of the k nearest at random, never the last one picked when another is there",
    )
    space.add_argument(
        "--when",
        choices=WHEN,
        default="both",
        help="match each hit once, on its first timbre (first: the provisional one, or the "
        "final where there was none), on the final only, or both (every estimate: a later "
        "one is sent only if it changes the choice; default)",
    )
    space.add_argument("--seed", type=int, help="seed of --random (default: a fresh one)")
    out = parser.add_argument_group("output")
    out.add_argument(
        "--to",
        metavar="HOST:PORT",
        help=f"also send OSC there (SuperCollider's sclang listens on {DEFAULT_TARGET})",
    )
    out.add_argument("--prefix", default=PREFIX, help=f"OSC address prefix (default {PREFIX})")
    out.add_argument(
        "--quiet",
        action="store_true",
        help="no JSON lines on standard output (with --to or --play)",
    )
    play = parser.add_argument_group("playing the samples (needs PyAudio: the live extra)")
    play.add_argument(
        "--play",
        action="store_true",
        help="play each hit's first match on an audio output, at the hit's level",
    )
    play.add_argument(
        "--device", metavar="NAME", help="output device, by index or part of its name"
    )
    play.add_argument(
        "--gain",
        type=float,
        default=0.0,
        metavar="DB",
        help="added to each hit's peak level to give the sample's gain (default 0)",
    )
    play.add_argument(
        "--block",
        type=int,
        default=BLOCK,
        metavar="FRAMES",
        help=f"output block (default {BLOCK}: smaller is sooner, but a late block can stall "
        "PulseAudio's output for a second)",
    )
    play.add_argument(
        "--preload",
        action="store_true",
        help=f"read every sample at start (up to {CACHE}), so no first hit waits on a file",
    )
    _cli.add_subscriber_args(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _cli.run(PROG, lambda: match(args))


def match(args: argparse.Namespace) -> int:
    """Match hits until stopped (SIGINT, SIGTERM), every source ended, or ``--count``."""
    if args.k < 1:
        raise _cli.BadConfig(f"-k {args.k} is not a positive number")
    if args.quiet and not (args.to or args.play):
        raise _cli.BadConfig("--quiet leaves no output without --to or --play")
    if (args.device or args.preload or args.block != BLOCK) and not args.play:
        raise _cli.BadConfig("--device, --block and --preload go with --play")
    if not 32 <= args.block <= 8192:
        raise _cli.BadConfig(f"--block {args.block} is not 32-8192 frames")
    check_prefix(args.prefix)
    space = space_of(args)
    library = load_library(args.library)
    if args.preload and len(library.samples) > CACHE:
        raise _cli.BadConfig(f"--preload: {len(library.samples)} samples, more than {CACHE}")
    send = udp_client(args.to).send_message if args.to else None
    chooser = Chooser(Matcher(library, space), args.k, args.random, args.when, args.seed)
    with _cli.open_subscriber(args, kinds=["timbre"]) as subscriber:
        for line in library.skipped:
            print(f"{PROG}: skipped {line}", file=sys.stderr)
        sampler = Sampler(args.device, block=args.block) if args.play else None
        if sampler is not None and args.preload:
            sampler.preload([sample.path for sample in library.samples])
        outputs = Outputs(None if args.quiet else sys.stdout, send, args.prefix, sampler, args.gain)
        print(
            f"{PROG}: {len(library.samples)} samples, {len(library.skipped)} records skipped; "
            f"matching on {', '.join(space.descriptors)}" + (" and level" if space.level else ""),
            file=sys.stderr,
        )

        def each(item: Item) -> None:
            if _cli.is_notice(item):
                print(f"{PROG}: {_cli.notice(item)}", file=sys.stderr)
            chosen = chooser(item)
            if chosen is not None:
                outputs(chosen)

        try:
            subscriber.run(each, stop=_cli.stop_on_signals(), count=args.count)
        finally:
            if sampler is not None:
                sampler.drain()
                sampler.close()
                print(f"{PROG}: {sampler.playback.summary()}", file=sys.stderr)
                for line in sampler.playback.unreadable:
                    print(f"{PROG}: could not play {line}", file=sys.stderr)
    return _cli.OK


if __name__ == "__main__":
    sys.exit(main())
