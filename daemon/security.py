"""CURVE encryption and client authentication for the publishing socket.

pyzmq's ``zmq.auth`` does the work: a ``ThreadAuthenticator`` answers the ZAP
requests of the socket and admits only clients whose public key file is in the
configured directory. A client with no key, an unknown key or no CURVE at all
gets nothing: the handshake fails before any message is sent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from timbrecast.daemon.config import ConfigError


@dataclass(frozen=True)
class Curve:
    """Where the server's secret key and the authorised clients' public keys live."""

    secret_key: Path
    clients: Path


def keygen(folder: Path, name: str, force: bool = False) -> tuple[Path, Path]:
    """``NAME.key`` (public, to share) and ``NAME.key_secret`` (keep) in ``folder``.

    The secret key is created 0600, never readable by others even for an instant
    (the process umask is 077 while the files are written); existing keys are
    kept unless ``force``, since replacing a daemon's key locks out every client.
    """
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    present = [str(p) for p in (public, secret) if p.exists() or p.is_symlink()]
    if present and not force:
        raise ConfigError(f"{', '.join(present)} exists: keep it, or replace it with --force")
    folder.mkdir(parents=True, exist_ok=True)
    for path in present:
        Path(path).unlink()
    previous = os.umask(0o077)
    try:
        zmq.auth.create_certificates(folder, name)
    finally:
        os.umask(previous)
    public.chmod(0o644)
    return public, secret


def load_keys(path: Path) -> tuple[bytes, bytes | None]:
    """(public, secret) from a key file; a ``ConfigError`` naming the file otherwise."""
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a usable CURVE key file ({exc})") from exc
    return public, secret


def secure(socket: zmq.Socket, curve: Curve) -> ThreadAuthenticator:
    """Make ``socket`` a CURVE server admitting only the clients in ``curve.clients``."""
    if not curve.clients.is_dir():
        raise ConfigError(f"[security] clients: {curve.clients} is not a directory")
    public, secret = load_keys(curve.secret_key)
    if secret is None:
        raise ConfigError(f"[security] secret_key: {curve.secret_key} holds no secret key")
    authenticator = ThreadAuthenticator(socket.context)
    authenticator.start()
    authenticator.configure_curve(domain="*", location=str(curve.clients))
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_server = True
    return authenticator
