"""Clients of the timbrecast daemon: a Python API and the command-line bridges.

``subscribe`` (a plain loop), ``Subscriber`` (blocking: iterate, ``recv`` or ``run``
with a callback) and ``AsyncSubscriber`` (asyncio) read one or several daemons and
give typed events;
the commands are ``timbrecast-listen``, ``timbrecast-osc``, ``timbrecast-midi``
and ``timbrecast-broker`` (docs/clients.md).
"""

from timbrecast.clients.subscriber import (
    AsyncSubscriber,
    Back,
    Counters,
    CurveKeys,
    End,
    Item,
    Onset,
    Silent,
    Status,
    Subscriber,
    Timbre,
    subscribe,
)

__all__ = [
    "AsyncSubscriber",
    "Back",
    "Counters",
    "CurveKeys",
    "End",
    "Item",
    "Onset",
    "Silent",
    "Status",
    "Subscriber",
    "Timbre",
    "subscribe",
]
