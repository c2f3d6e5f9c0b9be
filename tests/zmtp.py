"""A bare ZMTP 3.0 peer over TCP, for flood tests.

A ZeroMQ SUB or XSUB socket keeps every subscription it sends (to send them again
after a reconnect), so flooding a daemon with one would bloat the test process
itself by as much as the daemon: 20,000 distinct 10 KB subscriptions took the test
process to 8 GB. This speaks the protocol by hand (NULL mechanism, socket type
XSUB) and keeps nothing.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterable


def _frame(body: bytes, command: bool = False) -> bytes:
    flags = 0x04 if command else 0x00
    if len(body) > 255:
        return bytes([flags | 0x02]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body


def _receive(peer: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = peer.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the peer hung up during the handshake")
        data += chunk
    return data


def flood(endpoint: str, subscriptions: Iterable[bytes], hold_s: float = 2.0) -> None:
    """Connect to a ``tcp://host:port`` XPUB as an XSUB, send each subscription (a
    topic; the subscribe flag byte is added), stay ``hold_s`` (a peer that hangs up
    at once has its queued subscriptions dropped with it), then hang up."""
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    deadline = time.monotonic() + 30
    while True:  # the daemon binds once its models are loaded
        try:
            peer = socket.create_connection((host, int(port)), timeout=10)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    with peer:
        # One step at a time: libzmq refuses a peer whose READY and first message
        # arrive before its own greeting has gone out.
        greeting = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00")
        peer.sendall(greeting + b"\x00" + b"\x00" * 31)
        _receive(peer, 64)
        ready = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 4) + b"XSUB"
        peer.sendall(_frame(ready, command=True))
        _flags, size = _receive(peer, 2)
        _receive(peer, size)
        try:
            for topic in subscriptions:
                peer.sendall(_frame(b"\x01" + topic))
        except OSError:
            return  # the daemon hung up on us: what an oversized message should cause
        time.sleep(hold_s)
