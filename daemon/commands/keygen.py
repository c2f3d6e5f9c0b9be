"""``timbrecastd keygen``: CURVE key pairs for the daemon and its clients."""

from __future__ import annotations

import argparse
from pathlib import Path

from timbrecast.daemon import exitcodes
from timbrecast.daemon.security import keygen


def cmd_keygen(args: argparse.Namespace) -> int:
    """A CURVE key pair for the daemon (server) or a client."""
    public, secret = keygen(args.out, args.name, args.force)
    print(f"public key {public} (share), secret key {secret} (keep private, mode 600)")
    return exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser(
        "keygen",
        help="create a CURVE key pair (the daemon's, or a client's)",
        description="Writes NAME.key (public: give it to the other side) and "
        "NAME.key_secret (private, mode 600). The daemon uses server.key_secret "
        "([security] secret_key); each client's NAME.key goes into [security] clients.",
        epilog="examples:\n  timbrecastd keygen --out /etc/timbrecast/keys\n"
        "  timbrecastd keygen --out ~/.config/timbrecast --name laptop",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    keys.add_argument("--out", type=Path, required=True, help="folder for the key files")
    keys.add_argument("--name", default="server", help="file name stem (default server)")
    keys.add_argument(
        "--force",
        action="store_true",
        help="replace existing keys (every client must then get the new public key)",
    )
    keys.set_defaults(func=cmd_keygen)
