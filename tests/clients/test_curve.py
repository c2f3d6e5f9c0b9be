"""CURVE end to end with real processes: a daemon that admits only its clients, a
broker that is one of them and serves its own, and listeners with and without keys."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.clients.chain import stop
from tests.conftest import free_endpoint, script


def keygen(folder: Path, name: str) -> None:
    subprocess.run(
        [script("timbrecastd"), "keygen", "--out", str(folder), "--name", name],
        check=True,
        capture_output=True,
    )


def listen(endpoint: str, *keys: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [script("timbrecast-listen"), "--jsonl", "--connect", endpoint, "--silence", "0", *keys],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_daemon_broker_and_clients_over_curve(demo, demo_onsets, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    for name in ("server", "broker", "direct", "via-broker", "stranger"):
        keygen(keys, name)
    daemon_clients, broker_clients = keys / "daemon-clients", keys / "broker-clients"
    daemon_clients.mkdir()
    broker_clients.mkdir()
    for name in ("broker", "direct"):
        (daemon_clients / f"{name}.key").write_bytes((keys / f"{name}.key").read_bytes())
    (broker_clients / "via-broker.key").write_bytes((keys / "via-broker.key").read_bytes())
    endpoint, backend = free_endpoint(), free_endpoint()
    config = tmp_path / "timbrecast.toml"
    config.write_text(
        f'[publish]\nendpoint = "{endpoint}"\n[security]\ncurve = true\n'
        f'secret_key = "{keys / "server.key_secret"}"\nclients = "{daemon_clients}"\n'
    )
    broker = subprocess.Popen(
        [
            *(script("timbrecast-broker"), "--upstream", endpoint, "--backend", backend),
            *("--key", str(keys / "broker.key_secret")),
            *("--upstream-server-key", str(keys / "server.key")),
            *("--clients", str(broker_clients)),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert "-> clients at" in broker.stderr.readline()
    listeners = {
        "direct": listen(
            endpoint,
            "--server-key",
            str(keys / "server.key"),
            "--key",
            str(keys / "direct.key_secret"),
        ),
        "via-broker": listen(
            backend,
            *("--server-key", str(keys / "broker.key")),
            *("--key", str(keys / "via-broker.key_secret")),
        ),
        "stranger": listen(
            endpoint,
            "--server-key",
            str(keys / "server.key"),
            "--key",
            str(keys / "stranger.key_secret"),
        ),
        "plain-daemon": listen(endpoint),
        "plain-broker": listen(backend),
    }
    try:
        daemon = subprocess.run(
            [script("timbrecastd"), "run", "--config", str(config), "--file", str(demo)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert daemon.returncode == 0, daemon.stderr
        assert "(CURVE)" in daemon.stderr
        outputs = {}
        for name in ("direct", "via-broker"):  # they end with the file
            outputs[name], _ = listeners[name].communicate(timeout=30)
            assert listeners[name].returncode == 0
        for name in ("stranger", "plain-daemon", "plain-broker"):  # they never hear a thing
            assert stop(listeners[name]) == 0
            outputs[name] = listeners[name].stdout.read()
    finally:
        for process in listeners.values():
            if process.poll() is None:
                process.kill()
        assert stop(broker) == 0
    for name in ("direct", "via-broker"):
        events = [json.loads(line) for line in outputs[name].splitlines()]
        assert sum(e["kind"] == "onset" for e in events) == len(demo_onsets), name
        assert events[-1]["kind"] == "end"
    for name in ("stranger", "plain-daemon", "plain-broker"):
        assert outputs[name] == "", name


def test_keys_are_both_or_neither(tmp_path: Path) -> None:
    done = subprocess.run(
        [script("timbrecast-listen"), "--jsonl", "--key", str(tmp_path / "a.key_secret")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 78
    assert "CURVE needs both --server-key" in done.stderr
    done = subprocess.run(
        [script("timbrecast-broker"), "--clients", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 78 and "need --key" in done.stderr
