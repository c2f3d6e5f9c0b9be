"""The configuration file: every key documented, every mistake named, exit status 78."""

from __future__ import annotations

import subprocess
from dataclasses import fields
from pathlib import Path

import pytest
import tomllib
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, free_endpoint, script
from timbrecast.daemon import config
from timbrecast.daemon.config import ConfigError, Settings

EXAMPLE = REPO / "systemd" / "timbrecast.toml"


def test_the_example_documents_every_key_at_its_default() -> None:
    document = tomllib.loads(EXAMPLE.read_text())
    listed = {(table, key) for table, keys in document.items() for key in keys}
    wanted = {(f.metadata["table"], f.name) for f in fields(Settings)}
    assert listed == wanted
    assert config.resolve(EXAMPLE, {}) == Settings()
    text = EXAMPLE.read_text()
    for f in fields(Settings):
        above = text[: text.index(f"\n{f.name} = ")]
        assert above.rstrip().splitlines()[-1].startswith("#"), f"{f.name} has no comment"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[detection]\ntreshold = 0.1\n", "unknown key [detection] treshold"),
        ("[detect]\nthreshold = 0.1\n", "unknown table [detect]"),
        ('[detection]\nthreshold = "high"\n', "[detection] threshold: expected a number"),
        ("[detection]\nfloor_db = 6.0\n", "[detection] floor_db: 6.0 is outside"),
        ("[input]\nchannels = [0]\n", "[input] channels: channels count from 1"),
        ("[input]\nchannels = [1, true]\n", "[input] channels: expected a list of integers"),
        ("[model]\nthreads = 1.5\n", "[model] threads: expected an integer"),
        ('[model]\nruntime = "torch"\n', "[model] runtime: 'torch' is not one of"),
        ("[publish]\nhwm = 0\n", "[publish] hwm: 0 is outside"),
        ("[publish]\nconnect = 1\n", "[publish] connect: expected true or false"),
        ('[publish]\nendpoint = "tcp://0.0.0.0:5556"\n', "allow_network = true"),
        ("[detection\n", "not valid TOML"),
        ('[publish]\nendpoint = "tcp://127.0.0.1:99999"\n', "the port must be 1-65535 or *"),
        ('[publish]\nendpoint = "tcp://127.0.0.1:x"\n', "the port must be 1-65535 or *"),
        ('[input]\nsources = [""]\n', "source name '' must have 1 to 64 characters"),
        ('[input]\nsources = ["a/b"]\n', "source name 'a/b': no '/'"),
        ('[input]\nsources = ["kick", "kick"]\n', "kick is given twice"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "timbrecast.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        config.resolve(path, {})


def test_flags_override_the_file_and_network_needs_consent(tmp_path: Path) -> None:
    path = tmp_path / "timbrecast.toml"
    path.write_text("[detection]\nthreshold = 0.05\nfloor_db = -50.0\n")
    settings = config.resolve(path, {"threshold": 0.02, "floor_db": None})
    assert (settings.threshold, settings.floor_db) == (0.02, -50.0)
    with pytest.raises(ConfigError, match="not loopback"):
        config.resolve(path, {"endpoint": "tcp://192.168.1.20:5556"})
    opened = config.resolve(path, {"endpoint": "tcp://192.168.1.20:5556", "allow_network": True})
    assert opened.allow_network
    for local in ("tcp://127.0.0.1:1", "tcp://localhost:1", "tcp://[::1]:1", "ipc:///tmp/x"):
        assert config.is_loopback(local)


def test_reload_tells_detection_changes_from_restart_changes() -> None:
    running = Settings()
    assert running.needs_restart(Settings(threshold=0.5, floor_db=-40.0, min_interval=0.1)) == []
    assert running.needs_restart(Settings(activation=0.3)) == []
    assert running.needs_restart(Settings(device="USB", hwm=5, method="flux")) == [
        "[input] device",
        "[detection] method",
        "[publish] hwm",
    ]


def test_command_line_reports_a_bad_file_in_one_line_with_status_78(tmp_path: Path) -> None:
    path = tmp_path / "timbrecast.toml"
    path.write_text("[detection]\nthreshold = -1.0\n")
    for command in ("check", "run"):
        done = subprocess.run(
            [script("timbrecastd"), command, "--config", str(path), "--file", "x.wav"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 78, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "[detection] threshold" in lines[0], done.stderr
    missing = subprocess.run(
        [script("timbrecastd"), "run", "--config", str(tmp_path / "none.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 78 and "no such configuration file" in missing.stderr


def test_check_says_what_is_wrong(tmp_path: Path) -> None:
    busy = free_endpoint()
    import zmq

    holder = zmq.Context.instance().socket(zmq.PUB)
    holder.bind(busy)
    try:
        path = tmp_path / "timbrecast.toml"
        path.write_text(
            f'[model]\nmodel = "{tmp_path / "gone.tflite"}"\n[publish]\nendpoint = "{busy}"\n'
        )
        done = subprocess.run(
            [script("timbrecastd"), "check", "--config", str(path), "--file", "x.wav"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.close(linger=0)
    assert done.returncode == 78
    assert "PROBLEM  model:" in done.stdout and "no such file" in done.stdout
    assert "PROBLEM  endpoint:" in done.stdout and busy in done.stdout


def test_usage_errors_are_configuration_errors() -> None:
    done = subprocess.run(
        [script("timbrecastd"), "run", "--no-such-flag"], capture_output=True, text=True
    )
    assert done.returncode == 78
    assert "unrecognized arguments: --no-such-flag" in done.stderr


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "timbrecast.toml"
    path.write_bytes(b"[detection]\nthreshold = 0.1 # \xff\xfe\n")
    with pytest.raises(ConfigError, match=f"{path}: not UTF-8 text"):
        config.resolve(path, {})
    done = subprocess.run(
        [script("timbrecastd"), "check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 78 and str(path) in done.stderr and "internal" not in done.stderr


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--stdin", "--channels", "0"], "--channels 0: 1 to 64"),
        (["--stdin", "--sources", "a,a"], "a is given twice"),
        (["--stdin", "--endpoint", "tcp://127.0.0.1:99999"], "the port must be 1-65535"),
        (["--stdin", "--early-model", "gone.tflite"], "gone.tflite"),
    ],
)
def test_run_refuses_what_it_cannot_honour(flags: list[str], named: str) -> None:
    done = subprocess.run(
        [script("timbrecastd"), "run", *flags],
        input=b"",
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 78, done.stderr
    assert named in done.stderr.decode()


def test_check_checks_the_early_model(tmp_path: Path) -> None:
    done = subprocess.run(
        [script("timbrecastd"), "check", "--stdin", "--early-model", str(tmp_path / "x.tflite")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 78
    assert "PROBLEM  early model:" in done.stdout
    bundled = subprocess.run(
        [script("timbrecastd"), "check", "--stdin"], capture_output=True, text=True, timeout=60
    )
    assert "ok       early model: " in bundled.stdout
    assert "25 ms after each attack" in bundled.stdout
    both = subprocess.run(
        [
            script("timbrecastd"),
            "check",
            "--stdin",
            "--early-model",
            "early-25ms-int8.tflite,early-10ms-int8.tflite",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next(x for x in both.stdout.splitlines() if "early model" in x)
    assert line.startswith("ok") and line.index("10 ms after") < line.index("25 ms after")
    assert "ok       onset detection: learned, onsets-int8-" in bundled.stdout
    flux = subprocess.run(
        [script("timbrecastd"), "check", "--stdin", "--detector", "flux"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "ok       onset detection: flux (threshold 0.015)" in flux.stdout


TOML_VALUES = st.recursive(
    st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
KEYS = st.sampled_from([f.name for f in fields(Settings)] + ["bogus"])
TABLES = st.sampled_from(["input", "detection", "model", "publish", "security", "other"])


@settings(max_examples=300, deadline=None)
@given(document=st.dictionaries(TABLES, st.dictionaries(KEYS, TOML_VALUES) | TOML_VALUES))
def test_any_document_is_settings_or_a_config_error(document) -> None:
    try:
        values = config.parse(document)
    except ConfigError:
        return
    settings_ = config.Settings(**values)
    assert isinstance(settings_.detector.threshold, float)


@settings(max_examples=200, deadline=None)
@given(content=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_file_is_settings_or_a_config_error(content: bytes, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "timbrecast.toml"
    path.write_bytes(content)
    try:
        config.resolve(path, {})
    except ConfigError as exc:
        assert "\n" not in str(exc)  # one line, as the command line prints it
