"""The whole chain on loopback, every part a real process: timbrecastd -> broker ->
OSC bridge -> an OSC server here, with a watcher on the broker as a second client.

Hit counts are exact at the end of the chain: every hit a daemon published (its
last status, and ``timbrecastd analyze`` of the same file) is one onset, one
timbre and one message per descriptor at the OSC server. chain.py says how the
chain is synchronised without sleeps.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.clients.chain import Chain, stop
from tests.conftest import script
from timbrecast.daemon.protocol import DESCRIPTORS, Onset, Status, Timbre


def daemon(recording: Path, frontend: str, source: str, *flags: str) -> list[str]:
    """``timbrecastd run`` of a file (bundled model), publishing into the broker once
    the broker's subscription has reached it."""
    return [
        *(script("timbrecastd"), "run", "--file", str(recording), "--wait-subscriber"),
        *("--connect", frontend, "--sources", source, *flags),
    ]


def run_all(commands: list[list[str]], timeout_s: float = 120.0) -> None:
    """Run the daemons side by side; each must exit 0 (its stderr is the failure message)."""
    processes = [subprocess.Popen(c, stderr=subprocess.PIPE, text=True) for c in commands]
    try:
        for process in processes:
            _, err = process.communicate(timeout=timeout_s)
            assert process.returncode == 0, err
    finally:
        for process in processes:
            if process.poll() is None:
                stop(process)


def assert_exact(chain: Chain, source: str, hits: int) -> None:
    """Every hit once, in order, at the watcher and at the OSC server."""
    mine = [e for e in chain.events if e.source == source]
    assert [e.seq for e in mine if isinstance(e, Onset)] == list(range(hits))
    finals = [e.seq for e in mine if isinstance(e, Timbre) and not e.provisional]
    assert sorted(finals) == list(range(hits))
    last = [e for e in mine if isinstance(e, Status)][-1]
    assert (last.hits, last.skipped, last.drops, last.state) == (hits, 0, 0, "running")
    for address in ("onset", "timbre", *DESCRIPTORS):
        assert chain.osc.counts[f"/timbrecast/{source}/{address}"] == hits, address


def test_a_fast_daemon_through_broker_and_osc_bridge(demo: Path, demo_onsets: list[float]) -> None:
    hits = len(demo_onsets)
    with Chain() as chain:
        chain.wait_connected()
        run_all([daemon(demo, chain.frontend, "fast", "--fast")])
        chain.finish({"fast": hits})
    assert chain.statuses == [0, 0]
    assert hits >= 40
    assert_exact(chain, "fast", hits)


def test_three_live_daemons_through_broker_to_two_clients(
    demo: Path, demo_onsets: list[float]
) -> None:
    """Three daemons paced in real time, as three drummers."""
    sources, hits = ("kit1", "kit2", "kit3"), len(demo_onsets)
    with Chain() as chain:
        chain.wait_connected()
        run_all([daemon(demo, chain.frontend, source) for source in sources])
        chain.finish(dict.fromkeys(sources, hits))
    assert chain.statuses == [0, 0]
    assert hits >= 40
    for source in sources:
        assert_exact(chain, source, hits)
