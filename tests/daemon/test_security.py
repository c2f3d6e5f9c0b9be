"""CURVE keys as ``timbrecastd keygen`` writes them: private from the start, kept."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from tests.conftest import script


def keygen(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script("timbrecastd"), "keygen", "--out", str(folder), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        # A permissive umask: the secret key must come out 0600 all the same, and
        # keygen never chmods it afterwards, so it was created so.
        preexec_fn=lambda: os.umask(0o022),
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_secret_key_is_created_private_and_kept(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    assert keygen(keys).returncode == 0
    public, secret = keys / "server.key", keys / "server.key_secret"
    assert (mode(public), mode(secret)) == (0o644, 0o600)
    first = secret.read_bytes()

    again = keygen(keys)
    assert again.returncode == 78
    assert again.stderr.strip().splitlines() == [
        f"timbrecastd: {public}, {secret} exists: keep it, or replace it with --force"
    ]
    assert secret.read_bytes() == first

    assert keygen(keys, "--force").returncode == 0
    assert secret.read_bytes() != first and mode(secret) == 0o600
