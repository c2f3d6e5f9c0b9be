"""The example patches of examples/ receive hits: Pure Data (`pd -nogui`) and
SuperCollider (`sclang`, headless) run for real, fed by the real bridges
(`timbrecast-osc`, `timbrecast-match`) from a stand-in daemon; Max does not run
on Linux, so its patch is checked for what this machine can check: well formed,
every cord between existing inlets and outlets, and routing the very addresses
the bridges send."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.clients.wire import VALUES, onset, timbre
from tests.conftest import REPO
from timbrecast.clients import match, osc
from timbrecast.clients.osc import OscSettings, messages
from timbrecast.daemon.protocol import DESCRIPTORS

EXAMPLES = REPO / "examples"
PD_PORT = 9000


class Lines:
    """A process's output, line by line, readable with a timeout."""

    def __init__(self, process: subprocess.Popen, stream) -> None:
        self.process = process
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))

    def until(self, pattern: str, timeout_s: float) -> re.Match[str]:
        """The first line so far matching ``pattern`` (two senders' messages may come
        in either order), waiting up to ``timeout_s`` for it."""
        for line in self.seen:
            found = re.search(pattern, line)
            if found:
                return found
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no {pattern!r} in:\n" + "\n".join(self.seen[-40:]))


def library_of(parity_dir: Path, tmp_path: Path) -> tuple[Path, str]:
    """A one-sample library: whatever the hit, the match is that file."""
    clip = str(parity_dir / "gmrockkit-Snare-Hard.wav")
    record = {"file": clip, "rms_dbfs": -20.0, "descriptors": dict.fromkeys(DESCRIPTORS, 50.0)}
    path = tmp_path / "library.jsonl"
    path.write_text(json.dumps(record) + "\n")
    return path, clip


def send_hits(background, daemon, port: int, library: Path) -> None:
    """One hit through timbrecast-osc and timbrecast-match to ``port``."""
    common = ["--to", f"127.0.0.1:{port}", "--connect", daemon.endpoint, "--silence", "0"]
    bridge = background(osc.main, [*common, "--count", "2"])
    matcher = background(match.main, [str(library), *common, "--count", "1", "--quiet"])
    daemon.wait_subscribed([b"onset/"])
    daemon.wait_subscribed([b"timbre/"], times=2)  # the bridge's and the matcher's
    daemon.send(onset(peak=-6.0), timbre())
    assert bridge.join() == 0 and matcher.join() == 0


def port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@pytest.mark.skipif(shutil.which("pd") is None, reason="Pure Data (puredata-core) is not installed")
def test_the_pure_data_patch_receives_hits(background, daemon, parity_dir, tmp_path) -> None:
    if port_taken(PD_PORT):
        pytest.fail(f"UDP port {PD_PORT}, which the patch listens on, is taken")
    pd = subprocess.Popen(
        [
            "pd",
            "-nogui",
            "-noaudio",
            "-nomidi",
            "-stderr",
            "-open",
            str(EXAMPLES / "timbrecast.pd"),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not port_taken(PD_PORT):
            assert pd.poll() is None and time.monotonic() < deadline, "pd did not start"
            time.sleep(0.05)
        lines = Lines(pd, pd.stderr)
        library, clip = library_of(parity_dir, tmp_path)
        send_hits(background, daemon, PD_PORT, library)
        assert float(lines.until(r"^velocity: (\S+)$", 10).group(1)) == pytest.approx(0.9)
        ordered = [VALUES[name] / 100 for name in DESCRIPTORS]
        got = lines.until(r"^timbre: (.+)$", 10).group(1).split()
        assert [float(v) for v in got] == pytest.approx(ordered, abs=1e-4)
        hardness = float(lines.until(r"^hardness: (\S+)$", 10).group(1))
        assert hardness == pytest.approx(ordered[0], abs=1e-4)
        brightness = float(lines.until(r"^brightness: (\S+)$", 10).group(1))
        assert brightness == pytest.approx(VALUES["brightness"] / 100, abs=1e-4)
        found = lines.until(r"^match: (\S+) 0 (\S+) final 0 1$", 10)
        assert found.group(1) == clip
    finally:
        pd.terminate()
        pd.wait(10)


@pytest.mark.skipif(
    shutil.which("sclang") is None, reason="SuperCollider (supercollider-language) is not installed"
)
def test_the_supercollider_file_receives_hits(background, daemon, parity_dir, tmp_path) -> None:
    # Headless: no display (offscreen Qt), and Qt's web engine (the help browser)
    # refuses to start as root with its sandbox.
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox",
        XDG_RUNTIME_DIR=str(tmp_path),
        HOME=str(tmp_path),
    )
    sclang = subprocess.Popen(
        ["sclang", str(EXAMPLES / "timbrecast.scd")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        lines = Lines(sclang, sclang.stdout)
        port = int(lines.until(r"timbrecast: listening on port (\d+)", 120).group(1))
        library, clip = library_of(parity_dir, tmp_path)
        send_hits(background, daemon, port, library)
        assert float(lines.until(r"^timbrecast onset (\S+)$", 10).group(1)) == pytest.approx(0.9)
        values = lines.until(r"^timbrecast timbre \[ (.+) \]$", 10).group(1).split(", ")
        ordered = [VALUES[name] / 100 for name in DESCRIPTORS]
        assert [float(v) for v in values] == pytest.approx(ordered, abs=1e-5)
        found = lines.until(r"^timbrecast match (\S+) 0 (\S+) final 0$", 10)
        assert found.group(1) == clip
    finally:
        sclang.terminate()
        try:
            sclang.wait(10)
        except subprocess.TimeoutExpired:
            sclang.kill()


def test_the_max_patch_routes_what_the_bridges_send() -> None:
    patcher = json.loads((EXAMPLES / "timbrecast.maxpat").read_text())["patcher"]
    boxes = {entry["box"]["id"]: entry["box"] for entry in patcher["boxes"]}
    for line in patcher["lines"]:
        (source, outlet), (target, inlet) = (
            line["patchline"]["source"],
            line["patchline"]["destination"],
        )
        assert outlet < boxes[source]["numoutlets"] and inlet < boxes[target]["numinlets"]
    texts = [box.get("text", "") for box in boxes.values() if box["maxclass"] == "newobj"]
    assert f"udpreceive {PD_PORT}" in texts
    routed = next(t for t in texts if t.startswith("route ")).split()[1:]
    sent = [address for address, _ in messages(onset(), OscSettings())]
    sent += [address for address, _ in messages(timbre(), OscSettings())]
    assert routed[:3] == [sent[0], sent[1], "/timbrecast/snare/brightness"]
    assert routed[3] == f"{match.PREFIX}/snare/match"
    assert set(routed) <= {*sent, routed[3]}
