"""Subscribe to one or several daemons and get typed events, never exceptions.

One SUB socket connects to every endpoint (ZeroMQ fair-queues between them), so
a client of three Raspberry Pis is the same code as a client of one. What the
socket delivers goes through a small sans-I/O core, shared by the blocking
``Subscriber`` and the asyncio ``AsyncSubscriber``, that:

- decodes with ``timbrecast.daemon.protocol.decode`` and keeps only the kinds
  and sources asked for (a ZeroMQ subscription is a prefix: ``onset/kick``
  also matches ``onset/kick2``, so the exact filter is applied here);
- skips and counts malformed messages and messages of another schema version,
  so one bad producer cannot break a user's loop;
- watches every source's heartbeat (a status message once a second) and
  reports a source that falls silent with a ``Silent`` item, and a ``Back``
  item when it is heard again;
- notes each source's ``end`` message, so that a client of a finite stream
  (a file, stdin) finishes when every source it heard has ended, while a
  service's ``shutdown`` is waited out.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import msgpack
import zmq
import zmq.asyncio

from timbrecast.daemon.protocol import (
    DEFAULT_ENDPOINT,
    END_OF_INPUT,
    KINDS,
    SCHEMA_VERSION,
    STATUS_INTERVAL_S,
    End,
    Event,
    Onset,
    ProtocolError,
    Status,
    Timbre,
    decode,
)

#: Messages queued per connection before ZeroMQ drops; at a few hundred bytes a
#: message this is well under a megabyte, and ten seconds of a busy drummer.
DEFAULT_RCVHWM = 1000
#: The largest message a subscriber takes: a timbre message is about 400 bytes, so
#: 64 KiB is room for any future field; a peer sending more is disconnected by
#: ZeroMQ before the message is held in memory.
MAX_MESSAGE_BYTES = 64 * 1024
#: The most sources one subscriber follows: each costs a little state (its last
#: heartbeat, next seq, end); a publisher inventing source names beyond this has its
#: messages skipped and counted (``Counters.too_many_sources``). Against a rogue
#: publisher, name the sources wanted (``sources=``): others are filtered first.
MAX_SOURCES = 4096
#: Three missed status messages mean the source is gone rather than late.
DEFAULT_SILENCE_S = 3 * STATUS_INTERVAL_S

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_RCVHWM",
    "DEFAULT_SILENCE_S",
    "AsyncSubscriber",
    "Back",
    "Counters",
    "CurveKeys",
    "End",
    "Event",
    "Item",
    "Onset",
    "Silent",
    "Status",
    "Subscriber",
    "Timbre",
    "subscribe",
]


@dataclass(frozen=True)
class CurveKeys:
    """A CURVE client's keys: the daemon's (or broker's) public key, and its own pair.

    ``timbrecastd keygen`` writes them: the server's ``server.key`` comes from the
    daemon's machine, the client's ``NAME.key_secret`` holds its own public and
    secret key, and its ``NAME.key`` goes into the daemon's clients folder.
    """

    server_public: bytes
    public: bytes
    secret: bytes

    @classmethod
    def load(cls, server_key: Path, own_key: Path) -> CurveKeys:
        """From key files; ``ValueError`` naming the file that will not do."""
        import zmq.auth

        try:
            server_public, _ = zmq.auth.load_certificate(server_key)
            public, secret = zmq.auth.load_certificate(own_key)
        except (OSError, ValueError) as exc:
            raise ValueError(f"CURVE key: {exc}") from exc
        if secret is None:
            raise ValueError(f"CURVE key: {own_key} holds no secret key (use NAME.key_secret)")
        return cls(server_public, public, secret)

    def apply(self, socket: zmq.Socket) -> None:
        """Make ``socket`` a CURVE client of the server (before it connects)."""
        socket.curve_serverkey = self.server_public
        socket.curve_publickey = self.public
        socket.curve_secretkey = self.secret


@dataclass(frozen=True)
class Silent:
    """Nothing heard from ``source`` for ``silent_s`` seconds (its heartbeat stopped)."""

    kind: ClassVar[str] = "silent"
    source: str
    silent_s: float


@dataclass(frozen=True)
class Back:
    """``source`` is heard again after ``silent_s`` seconds of silence."""

    kind: ClassVar[str] = "back"
    source: str
    silent_s: float


Item = Onset | Timbre | Status | End | Silent | Back
#: Every kind of item a subscriber can hand over: the protocol's and its own notices.
ITEM_KINDS = (*KINDS, Silent.kind, Back.kind)


@dataclass
class Counters:
    """What the subscriber read and what it did with it (a copy; it does not update)."""

    #: Multipart messages read from the socket.
    received: int = 0
    #: Events handed to the user.
    delivered: int = 0
    #: Valid events not asked for: status read only as a heartbeat, or a source
    #: that shares the prefix of a wanted one.
    filtered: int = 0
    #: Messages that are not timbrecast messages (wrong frames, bad msgpack, bad fields).
    malformed: int = 0
    #: Well-formed messages of a schema version this client does not read.
    unknown_version: int = 0
    #: Hits whose ``onset`` never arrived, from gaps in each source's ``seq``: a
    #: PUB socket drops silently for a subscriber that falls a high-water mark
    #: behind, so this is where such drops show. A ``seq`` that goes back (the
    #: daemon restarted) starts the count afresh.
    missed: int = 0
    #: Messages of new sources once ``MAX_SOURCES`` were being followed, skipped.
    too_many_sources: int = 0


class _Core:
    """Filtering, counting and heartbeat watching, with the clock passed in."""

    def __init__(
        self,
        kinds: Iterable[str] | None,
        sources: Iterable[str] | None,
        silence_s: float | None,
        now: float,
    ) -> None:
        self.kinds = frozenset(KINDS if kinds is None else kinds)
        unknown = self.kinds - set(KINDS)
        if not self.kinds or unknown:
            raise ValueError(f"kinds must be among {', '.join(KINDS)}; got {sorted(self.kinds)}")
        self.sources = None if sources is None else frozenset(sources)
        if self.sources is not None and (not self.sources or "" in self.sources):
            raise ValueError("sources must be non-empty names")
        if silence_s is not None and not silence_s > 0:
            raise ValueError(f"the silence timeout must be positive, got {silence_s}")
        self.silence_s = silence_s
        self.counters = Counters()
        self.last_error: str | None = None
        # Sources named up front are expected: never hearing them is a silence too.
        self._heard: dict[str, float] = dict.fromkeys(self.sources or (), now)
        self._silent: set[str] = set()
        # When each source (at most one entry each) may next fall silent, earliest
        # first: a message costs O(log n) however many sources there are.
        self._watch: list[tuple[float, str]] = []
        self._watched: set[str] = set()
        if silence_s is not None:
            for source in self._heard:
                self._schedule(source, now + silence_s)
        self._next_seq: dict[str, int] = {}
        #: Every source heard (or named up front), and those whose input has ended.
        self._seen: set[str] = set(self.sources or ())
        self._ended: set[str] = set()

    @property
    def finished(self) -> bool:
        """Every source heard (or named up front) has sent ``end-of-input``."""
        return bool(self._ended) and self._seen <= self._ended

    def subscriptions(self) -> list[bytes]:
        """Topic prefixes for the SUB socket: the wanted kinds, plus status as heartbeat
        and ``end`` to know when a finite stream is over."""
        kinds = set(self.kinds) | {End.kind}
        kinds |= {"status"} if self.silence_s is not None else set()
        if kinds == set(KINDS) and self.sources is None:
            return [b""]
        return sorted(
            f"{kind}/{source}".encode()
            for kind in kinds
            for source in (self.sources if self.sources is not None else [""])
        )

    def feed(self, frames: Sequence[bytes], now: float) -> list[Item]:
        """The items one received message gives: nothing, a ``Back``, the event, or both."""
        self.counters.received += 1
        try:
            event = _checked(decode(frames))
        except ProtocolError as exc:
            if _is_other_version(frames):
                self.counters.unknown_version += 1
            else:
                self.counters.malformed += 1
            self.last_error = str(exc)
            return []
        if self.sources is not None and event.source not in self.sources:
            self.counters.filtered += 1
            return []
        if event.source not in self._seen and len(self._seen) >= MAX_SOURCES:
            self.counters.too_many_sources += 1
            self.last_error = f"more than {MAX_SOURCES} sources: {event.source!r} skipped"
            return []
        if isinstance(event, Onset):
            expected = self._next_seq.get(event.source, event.seq)
            self.counters.missed += max(0, event.seq - expected)
            self._next_seq[event.source] = event.seq + 1
        items: list[Item] = []
        self._seen.add(event.source)
        if isinstance(event, End):
            # An ended source is not silent; after a shutdown it may come back.
            self._heard.pop(event.source, None)
            self._silent.discard(event.source)
            if event.reason == END_OF_INPUT:
                self._ended.add(event.source)
        else:
            self._ended.discard(event.source)
            if self.silence_s is not None:
                if event.source in self._silent:
                    self._silent.discard(event.source)
                    items.append(Back(event.source, now - self._heard[event.source]))
                self._heard[event.source] = now
                if event.source not in self._watched:
                    self._schedule(event.source, now + self.silence_s)
        if event.kind in self.kinds:
            self.counters.delivered += 1
            items.append(event)
        else:
            self.counters.filtered += 1
        return items

    def _schedule(self, source: str, deadline: float) -> None:
        heapq.heappush(self._watch, (deadline, source))
        self._watched.add(source)

    def expire(self, now: float) -> list[Item]:
        """A ``Silent`` for each source whose silence just passed the timeout.

        Only the sources due are looked at: one heard since its entry was made is
        put back at its new deadline, one that ended or is already silent dropped.
        """
        if self.silence_s is None:
            return []
        items: list[Item] = []
        while self._watch and self._watch[0][0] <= now:
            _, source = heapq.heappop(self._watch)
            self._watched.discard(source)
            heard = self._heard.get(source)
            if heard is None or source in self._silent:
                continue
            if now - heard >= self.silence_s:
                self._silent.add(source)
                items.append(Silent(source, now - heard))
            else:
                self._schedule(source, heard + self.silence_s)
        return items

    def next_expiry(self, now: float) -> float | None:
        """Seconds until the next source could fall silent, or None if none can."""
        if self.silence_s is None or not self._watch:
            return None
        return max(0.0, self._watch[0][0] - now)


def _checked(event: Event) -> Event:
    """The event, unless its descriptors are not finite numbers.

    ``decode`` checks that a timbre carries the seven names but not what they
    hold; a bridge doing arithmetic on a string (or a NaN) would fail far from
    the cause, so such a message is malformed here.
    """
    if isinstance(event, Timbre):
        for name, value in event.descriptors.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ProtocolError(f"descriptor {name!r} is {type(value).__name__}, not a number")
            if not math.isfinite(value):
                raise ProtocolError(f"descriptor {name!r} is {value}")
    return event


def _is_other_version(frames: Sequence[bytes]) -> bool:
    """True for a readable map whose integer ``v`` is not ours: a newer (or older) daemon."""
    if len(frames) != 2:
        return False
    try:
        body = msgpack.unpackb(bytes(frames[1]), raw=False)
    except (ValueError, msgpack.ExtraData):
        return False
    version = body.get("v") if isinstance(body, dict) else None
    return (
        isinstance(version, int) and not isinstance(version, bool) and (version != SCHEMA_VERSION)
    )


def _open(
    context: zmq.Context,
    endpoints: str | Sequence[str],
    core: _Core,
    rcvhwm: int,
    curve: CurveKeys | None,
) -> zmq.Socket:
    """A SUB socket with its high-water mark set before it connects (it applies per pipe)."""
    endpoints = [endpoints] if isinstance(endpoints, str) else list(endpoints)
    if not endpoints:
        raise ValueError("no endpoint to connect to")
    if rcvhwm < 0:
        raise ValueError(f"the receive high-water mark must be >= 0, got {rcvhwm}")
    socket = context.socket(zmq.SUB)
    try:
        socket.setsockopt(zmq.RCVHWM, rcvhwm)
        socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        socket.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            curve.apply(socket)
        for prefix in core.subscriptions():
            socket.setsockopt(zmq.SUBSCRIBE, prefix)
        for endpoint in endpoints:
            socket.connect(endpoint)
    except zmq.ZMQError:
        socket.close(linger=0)
        raise
    return socket


def _poll_ms(seconds: float | None) -> int | None:
    """ZeroMQ's poll timeout, rounded up so that a short wait never spins."""
    return None if seconds is None else max(0, math.ceil(seconds * 1000))


class _Base:
    """What both subscribers share: the core, its counters, the wait arithmetic."""

    def __init__(
        self,
        kinds: Iterable[str] | None,
        sources: Iterable[str] | None,
        silence_s: float | None,
        until_end: bool,
    ) -> None:
        self._core = _Core(kinds, sources, silence_s, time.monotonic())
        self._ready: deque[Item] = deque()
        self.until_end = until_end

    @property
    def counters(self) -> Counters:
        return replace(self._core.counters)

    @property
    def last_error(self) -> str | None:
        """Why the last skipped message was skipped, for a status line."""
        return self._core.last_error

    @property
    def subscriptions(self) -> list[bytes]:
        """The topic prefixes subscribed to (what a publisher's XPUB socket sees)."""
        return self._core.subscriptions()

    @property
    def finished(self) -> bool:
        """Every source heard has ended its input and every item has been handed over:
        iteration and ``run`` stop here unless the subscriber was made ``until_end=False``."""
        return self.until_end and self._core.finished and not self._ready

    def _step(self, deadline: float | None) -> tuple[Item | None, float | None, bool]:
        """The next ready item, else how long to wait and whether time is up."""
        now = time.monotonic()
        self._ready.extend(self._core.expire(now))
        if self._ready:
            return self._ready.popleft(), None, False
        if self.finished:  # nothing more will come, even if "end" is not a wanted kind
            return None, None, True
        if deadline is not None and now >= deadline:
            return None, None, True
        left = None if deadline is None else deadline - now
        waits = [w for w in (self._core.next_expiry(now), left) if w is not None]
        return None, min(waits, default=None), False

    def _feed(self, frames: list[bytes]) -> None:
        self._ready.extend(self._core.feed(frames, time.monotonic()))


class Subscriber(_Base):
    """Blocking subscriber: ``recv``, iteration, or ``run`` with a callback.

    >>> with Subscriber(["tcp://pi1:5556", "tcp://pi2:5556"], kinds=["timbre"]) as sub:
    ...     for item in sub:
    ...         print(item)

    Items are protocol events (``Onset``, ``Timbre``, ``Status``, ``End``) of
    the wanted kinds and sources, and ``Silent``/``Back`` when a source's
    heartbeat stops and resumes (``silence_s=None`` turns that off). Iteration
    and ``run`` end once every source heard has sent ``end-of-input`` (a file or
    stdin is over); ``until_end=False`` keeps them going. A socket belongs to
    one thread: use a subscriber from the thread that made it.
    """

    def __init__(
        self,
        endpoints: str | Sequence[str] = DEFAULT_ENDPOINT,
        *,
        kinds: Iterable[str] | None = None,
        sources: Iterable[str] | None = None,
        silence_s: float | None = DEFAULT_SILENCE_S,
        rcvhwm: int = DEFAULT_RCVHWM,
        context: zmq.Context | None = None,
        until_end: bool = True,
        curve: CurveKeys | None = None,
    ) -> None:
        super().__init__(kinds, sources, silence_s, until_end)
        self._socket = _open(
            context or zmq.Context.instance(), endpoints, self._core, rcvhwm, curve
        )

    def recv(self, timeout_s: float | None = None) -> Item | None:
        """The next item, or None once ``timeout_s`` passes (None: wait for ever) or the
        stream is over (``finished``)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            item, wait, expired = self._step(deadline)
            if item is not None or expired:
                return item
            if self._socket.poll(_poll_ms(wait)):
                self._feed(self._socket.recv_multipart(zmq.NOBLOCK))

    def __iter__(self) -> Iterator[Item]:
        while not self.finished:
            item = self.recv()
            if item is not None:
                yield item

    def run(
        self,
        callback: Callable[[Item], object],
        *,
        stop: threading.Event | None = None,
        count: int | None = None,
        check_s: float = 0.1,
    ) -> None:
        """Call ``callback`` with each item until ``stop`` is set, ``count`` events came
        or every source has ended (see ``finished``).

        ``count`` counts protocol events, not ``Silent``/``Back``; ``stop`` is
        looked at every ``check_s`` seconds, so another thread or a signal
        handler can end the loop.
        """
        target = None if count is None else self._core.counters.delivered + count
        while not (stop is not None and stop.is_set()) and not self.finished:
            if target is not None and self._core.counters.delivered >= target:
                return
            item = self.recv(check_s)
            if item is not None:
                callback(item)

    def close(self) -> None:
        self._socket.close(linger=0)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def subscribe(
    endpoints: str | Sequence[str] = DEFAULT_ENDPOINT,
    *,
    kinds: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    silence_s: float | None = DEFAULT_SILENCE_S,
    until_end: bool = True,
    curve: CurveKeys | None = None,
) -> Iterator[Item]:
    """What one or several daemons publish, as a plain loop; the socket closes when the
    loop ends (every source heard has ended, unless ``until_end=False``) or is left.

    >>> for item in subscribe(kinds=["timbre"], sources=["snare"]):
    ...     print(item.descriptors["brightness"])

    The options are ``Subscriber``'s; use a ``Subscriber`` to ``recv`` with a timeout.
    """
    with Subscriber(
        endpoints,
        kinds=kinds,
        sources=sources,
        silence_s=silence_s,
        until_end=until_end,
        curve=curve,
    ) as subscriber:
        yield from subscriber


class AsyncSubscriber(_Base):
    """The same subscriber for asyncio (``zmq.asyncio``): ``await recv()`` or ``async for``.

    >>> async with AsyncSubscriber(kinds=["onset"]) as sub:
    ...     async for item in sub:
    ...         print(item)
    """

    def __init__(
        self,
        endpoints: str | Sequence[str] = DEFAULT_ENDPOINT,
        *,
        kinds: Iterable[str] | None = None,
        sources: Iterable[str] | None = None,
        silence_s: float | None = DEFAULT_SILENCE_S,
        rcvhwm: int = DEFAULT_RCVHWM,
        context: zmq.asyncio.Context | None = None,
        until_end: bool = True,
        curve: CurveKeys | None = None,
    ) -> None:
        super().__init__(kinds, sources, silence_s, until_end)
        self._socket = _open(
            context or zmq.asyncio.Context.instance(), endpoints, self._core, rcvhwm, curve
        )

    async def recv(self, timeout_s: float | None = None) -> Item | None:
        """The next item, or None once ``timeout_s`` passes (None: wait for ever) or the
        stream is over (``finished``)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            item, wait, expired = self._step(deadline)
            if item is not None or expired:
                return item
            if await self._socket.poll(_poll_ms(wait)):
                self._feed(await self._socket.recv_multipart())

    async def __aiter__(self) -> AsyncIterator[Item]:
        while not self.finished:
            item = await self.recv()
            if item is not None:
                yield item

    def close(self) -> None:
        self._socket.close(linger=0)

    async def __aenter__(self) -> AsyncSubscriber:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.close()
