"""``timbrecast-map``: the library page, checked in a real headless browser (Debian's
chromium): every sample a point, a click selects and plays the right file, the
ranges in the address hide what they should."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import script
from timbrecast.clients import libmap
from timbrecast.clients.libmap import project
from timbrecast.daemon.protocol import DESCRIPTORS

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)"
)


def records(library: Path) -> list[dict]:
    return [json.loads(line) for line in library.read_text().splitlines()]


def drawn(library: Path, out: Path, *flags: str) -> Path:
    done = subprocess.run(
        [script("timbrecast-map"), str(library), "--out", str(out), *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "40 samples drawn" in done.stderr and "0 audio files not found" in done.stderr
    return out


def browse(page: Path, view: str, profile: Path) -> str:
    """The page's DOM once it has loaded and run for 3 s of browser time."""
    done = subprocess.run(
        [
            *(CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu"),
            *("--autoplay-policy=no-user-gesture-required", "--virtual-time-budget=3000"),
            *(f"--user-data-dir={profile}", "--dump-dom", f"{page.as_uri()}#{view}"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_projection_follows_the_spread() -> None:
    # The samples differ in brightness most and in warmth a little: the first
    # axis orders them by brightness, the second by warmth.
    rng = np.random.default_rng(0)
    values = np.full((50, 7), 50.0)
    values[:, DESCRIPTORS.index("brightness")] = rng.uniform(0, 100, 50)
    values[:, DESCRIPTORS.index("warmth")] = rng.uniform(40, 60, 50)
    projection = project(values)
    x, y = projection.xy.T
    assert x.min() == 0.0 and x.max() == 1.0 and y.min() == 0.0 and y.max() == 1.0
    assert np.corrcoef(x, values[:, DESCRIPTORS.index("brightness")])[0, 1] > 0.999
    assert abs(np.corrcoef(y, values[:, DESCRIPTORS.index("warmth")])[0, 1]) > 0.99
    assert projection.explained[0] > 0.9 and sum(projection.explained) == pytest.approx(1.0)
    assert project(values[:1]).xy.tolist() == [[0.5, 0.5]]


@needs_chromium
@pytest.mark.parametrize("flags", [[], ["--embed", "--color", "warmth"]], ids=["paths", "embedded"])
def test_the_page_in_a_browser(library: Path, tmp_path: Path, flags: list[str]) -> None:
    page = drawn(library, tmp_path / "map.html", *flags)
    tags = records(library)
    dom = browse(page, "click=5", tmp_path / "profile")
    assert len(re.findall(r"<circle ", dom)) == len(tags) == 40
    assert re.search(r'id="selected">([^<]*)<', dom).group(1) == tags[5]["file"]
    assert len(re.findall(r'<circle[^>]*class="selected"', dom)) == 1
    assert 'data-index="5"' in re.search(r'<circle[^>]*class="selected"[^>]*>', dom).group(0)
    audio = re.search(r"<audio[^>]*>", dom).group(0)
    assert 'data-state="playing"' in audio
    if flags:
        assert 'src="data:audio/' in audio
    else:
        assert f'src="{Path(tags[5]["file"]).as_uri()}"' in audio
    assert "40 of 40 samples shown" in dom


@needs_chromium
def test_ranges_in_the_address_hide_what_is_outside(library: Path, tmp_path: Path) -> None:
    page = drawn(library, tmp_path / "map.html")
    tags = records(library)
    # The brighter, softer half of each: ranges from the library itself, so that any
    # model's tags split it.
    bright = int(np.median([t["descriptors"]["brightness"] for t in tags]))
    soft = int(np.median([t["descriptors"]["hardness"] for t in tags])) + 1
    inside = [
        t
        for t in tags
        if bright <= t["descriptors"]["brightness"] <= 100 and t["descriptors"]["hardness"] <= soft
    ]
    assert 0 < len(inside) < len(tags)
    dom = browse(page, f"brightness={bright}-100&hardness=0-{soft}", tmp_path / "profile")
    assert f"{len(inside)} of 40 samples shown" in dom
    assert len(re.findall(r'<circle[^>]*class="hidden"', dom)) == len(tags) - len(inside)
    assert 'id="selected">none<' in dom


def test_a_library_that_cannot_be_drawn_is_one_line_and_78(
    library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = tmp_path / "gone.jsonl"
    record = records(library)[0]
    gone.write_text(json.dumps({**record, "file": str(tmp_path / "missing.wav")}) + "\n")
    for argv, message in [
        ([str(tmp_path / "none.jsonl")], "cannot read it"),
        ([str(gone), "--embed"], "--embed: 1 samples not found"),
    ]:
        status = libmap.main([*argv, "--out", str(tmp_path / "map.html")])
        err = capsys.readouterr().err
        assert status == 78 and message in err and err.strip().count("\n") == 0, err
    done = subprocess.run(
        [script("timbrecast-map"), str(gone), "--out", str(tmp_path / "map.html"), "--embed"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 78
    assert done.stderr.strip().count("\n") == 0 and "not found" in done.stderr
