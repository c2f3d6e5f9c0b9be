"""The drum-machine collection as a corpus source: listing, rendering in workers,
verification without the collection, and the build command that takes it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.trainer.test_corpus import DRUM_MACHINES, Bar
from timbrecast.daemon import audiofile
from timbrecast.daemon.preprocess import prepare
from timbrecast.trainer import cli, corpus, hydrogen, machines, samplepacks, soundfonts
from timbrecast.trainer.dataset import Part
from timbrecast.trainer.labelcache import clip_key, dequantise, quantise
from timbrecast.trainer.sources import Listing
from timbrecast.trainer.split import MACHINES, TEST, Split


@pytest.fixture
def collection(parity_dir: Path, tmp_path: Path) -> Path:
    """Two machines laid out as the collection is: real drum hits as FLAC, a held
    tone, a copy of a hit and a folder of an instrument the source does not know."""
    root = tmp_path / "drum-machines"

    def put(relative: str, frames: np.ndarray, rate: int) -> None:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(root / relative, frames, rate, format="FLAC")

    kick, kick_rate = soundfile.read(parity_dir / "gmrockkit-Kick-Softest.wav")
    snare, snare_rate = soundfile.read(parity_dir / "gmrockkit-Snare-Hard.wav")
    put("BoxOne/boxone-bd/Kick.flac", kick, kick_rate)
    put("BoxOne/boxone-sd/Snare.flac", snare, snare_rate)
    put("BoxOne/boxone-sd/SnareAgain.flac", snare, snare_rate)
    held = 0.5 * np.sin(2 * np.pi * 440 * np.arange(22050) / 44100)
    put("BoxTwo/boxtwo-oh/Open.flac", held, 44100)
    put("BoxTwo/boxtwo-zz/Thing.flac", snare, snare_rate)
    return root


def test_a_collection_lists_its_one_shots_by_machine_and_says_what_it_left_out(
    collection: Path,
) -> None:
    listing = machines.listing(collection)
    assert [(h.kit, h.instrument, h.instrument_class) for h in listing.hits] == [
        (MACHINES + "BoxOne", "bd", "kick"),
        (MACHINES + "BoxOne", "sd", "snare"),
    ]
    assert [json.loads(h.recipe) for h in listing.hits] == [
        {"file": "BoxOne/boxone-bd/Kick.flac"},
        {"file": "BoxOne/boxone-sd/Snare.flac"},
    ]
    assert {(s.item, s.reason) for s in listing.left_out} == {
        ("BoxOne/boxone-sd/SnareAgain.flac", "duplicate audio"),
        ("BoxTwo/boxtwo-oh/Open.flac", "held tone"),
        ("BoxTwo/boxtwo-zz/Thing.flac", "unknown instrument"),
    }


def test_no_collection_is_one_thing_left_out_with_its_reason(tmp_path: Path) -> None:
    listing = machines.listing(tmp_path / "nowhere")
    assert listing.hits == []
    assert listing.skipped == {
        f"no drum-machine collection at {tmp_path / 'nowhere'} (--drum-machines)": 1
    }


def test_worker_processes_render_from_the_collection_the_build_names(
    collection: Path, tmp_path: Path
) -> None:
    hits = machines.listing(collection).hits
    machines.use(collection)
    store = np.zeros((len(hits), 16000), dtype=np.int16)
    errors = list(corpus.render_all(hits, store, 2, lambda n: None))
    assert [error for _, _, error in errors] == [None, None]
    kick = audiofile.read(collection / "BoxOne/boxone-bd/Kick.flac")
    assert np.array_equal(store[0], quantise(prepare(kick.frames, kick.sample_rate)))

    machines.use(tmp_path / "elsewhere")
    *_, error = corpus._prepare_hit(hits[0])
    assert error is not None and "elsewhere" in error and "--drum-machines" in error
    os.environ.pop(machines.ROOT_VARIABLE)
    *_, error = corpus._prepare_hit(hits[0])
    assert error == "MachinesError: no drum-machine collection named (--drum-machines)"


def committed_of(collection: Path) -> list[corpus.Entry]:
    """Committed entries for the collection's hits, as a build here would key them."""
    machines.use(collection)
    hits = machines.listing(collection).hits
    clips = [prepare(a.frames, a.sample_rate) for a in map(corpus.render, hits)]
    os.environ.pop(machines.ROOT_VARIABLE)
    return [
        corpus.Entry(h, clip_key(dequantise(quantise(c))), (1.0,) * 7)
        for h, c in zip(hits, clips, strict=True)
    ]


def test_verify_counts_clips_of_an_absent_collection_apart(
    collection: Path, tmp_path: Path
) -> None:
    entries = committed_of(collection)
    machines.use(collection)
    result = corpus.verify(entries, tmp_path / "here", 1, Bar)
    assert result.matched == len(entries) == 2 and not result.absent

    machines.use(tmp_path / "elsewhere")
    result = corpus.verify(entries, tmp_path / "away", 1, Bar)
    assert result.absent == entries
    assert result.matched == 0 and not result.unrenderable and not result.mismatched


def test_dataset_verify_checks_the_collection_or_counts_it_apart(
    collection: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    entries = committed_of(collection)
    monkeypatch.setattr(corpus, "committed_entries", lambda: entries)
    assert cli.main(["dataset", "verify", "--drum-machines", str(collection), "--quiet"]) == 0
    assert "2 of 2 committed clips render to the committed hash" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # no ../shared beside
    assert cli.main(["dataset", "verify", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "0 of 0 committed clips render" in err
    assert "2 committed clips not checked: no drum-machine collection at ../shared" in err
    assert cli.main(["dataset", "verify", "--drum-machines", "nowhere"]) == 66
    assert "nowhere: no such directory (--drum-machines)" in capsys.readouterr().err


def test_commit_without_the_collection_is_refused_before_any_work(
    collection: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """Committing a build that could not list the drum machines would drop their
    committed labels."""
    entries = committed_of(collection)
    monkeypatch.setattr(corpus, "committed_entries", lambda: entries)
    monkeypatch.setattr(corpus, "list_hits", lambda spec: pytest.fail("listed anyway"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["dataset", "build", "--commit"]) == 78
    err = capsys.readouterr().err
    assert "would drop its 2 committed clips: name it with --drum-machines DIR" in err
    assert err.count("\n") == 1


@pytest.mark.slow
def test_dataset_build_takes_the_collection_and_its_copies(
    collection: Path, small_hits, tmp_path: Path, monkeypatch, capsys
) -> None:
    """The command as documented, with the Debian kits cut to a few hits: the
    machines' hits and their copies are labelled and counted by source."""
    monkeypatch.setattr(hydrogen, "listing", lambda: Listing(small_hits[:1], []))
    monkeypatch.setattr(soundfonts, "listing", lambda: Listing([], []))
    monkeypatch.setattr(samplepacks, "listing", lambda: Listing([], []))
    monkeypatch.setattr(corpus, "committed_entries", lambda: [])
    store = tmp_path / "store"
    status = cli.main(
        [
            "dataset", "build", "--synthetic", "0", "--copies", "0", "--machine-copies", "1",
            "--drum-machines", str(collection), "--store", str(store),
            "--cache", str(tmp_path / "labels.db"), "--jobs", "2", "--quiet",
        ]
    )  # fmt: skip
    assert status == 0
    err = capsys.readouterr().err
    assert re.search(r"^drum-machines +2 clips$", err, re.MULTILINE)
    assert re.search(r"^drum-machines\+aug +2 clips$", err, re.MULTILINE)
    assert "left out by the sources: 1 (held tone)" in err
    entries, clips = corpus.load(store)
    assert [e.hit.source for e in entries] == [
        small_hits[0].source, "drum-machines", "drum-machines", "drum-machines+aug",
        "drum-machines+aug",
    ]  # fmt: skip
    assert all(e.labels is not None for e in entries)
    assert clips.shape == (5, 16000)


@pytest.mark.skipif(not DRUM_MACHINES.is_dir(), reason="needs ../shared/data/drum-machines")
def test_the_shared_collection_holds_the_split_and_the_committed_corpus_holds_it() -> None:
    listing = machines.listing(DRUM_MACHINES)
    assert len(listing.hits) >= 2_500
    kits = {h.kit for h in listing.hits}
    split = Split.load()
    assert {k for k in split.validation | split.test if k.startswith(MACHINES)} <= kits
    committed = {
        (e.hit.source, e.hit.recipe) for e in corpus.committed_entries() if e.labels is not None
    }
    listed = {(h.source, h.recipe) for h in listing.hits}
    assert len(listed - committed) <= len(listed) // 100, "the committed corpus lacks machines"
    assert any(split.of(h.kit) == TEST for h in listing.hits)


def test_a_part_of_the_split_reports_drum_machines_apart(collection: Path, small_hits) -> None:
    hits = [*small_hits[:2], *machines.listing(collection).hits]
    part = Part(np.zeros((len(hits), 4)), np.arange(len(hits))[:, None], [
        corpus.Entry(h, "", (0.0,) * 7) for h in hits
    ])  # fmt: skip
    assert [e.hit.source for e in part.machines().entries] == ["drum-machines"] * 2
    assert part.machines(False).targets[:, 0].tolist() == [0, 1]
