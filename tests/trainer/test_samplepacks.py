"""The drum samples of Debian's lmms-common, sonic-pi-samples and stk as training
one-shots, on the installed packages (CI installs them; without them these tests
fail, naming the package to install)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from timbrecast.daemon import audiofile
from timbrecast.trainer import augment, cli, corpus, hydrogen, samplepacks, soundfonts
from timbrecast.trainer.samplepacks import Pack
from timbrecast.trainer.sources import AUGMENTED, INSTRUMENT_CLASSES, Hit, Listing, PackageMissing
from timbrecast.trainer.split import TRAIN, Split

RAWWAVES = Path("/usr/share/stk/rawwaves")


@pytest.fixture(scope="module")
def listing() -> Listing:
    try:
        return samplepacks.listing()
    except PackageMissing as exc:
        pytest.fail(str(exc))


def test_each_package_gives_its_drum_hits_and_counts_what_it_left_out(listing: Listing) -> None:
    """Measured on lmms-common 1.2.2, sonic-pi-samples 3.2.2 and stk 4.6.2: 67, 96 and
    10 hits; 7 files left out (a roll, two double strokes, three held tones, and an
    LMMS "ogg" that is Vorbis inside a WAV, which libsndfile cannot read)."""
    by_package = Counter(h.source for h in listing.hits)
    assert by_package["stk"] == 10
    assert by_package["lmms-common"] >= 60
    assert by_package["sonic-pi-samples"] >= 90
    assert {h.kit for h in listing.hits} == samplepacks.SOURCES
    assert {s.kit for s in listing.left_out} <= samplepacks.SOURCES
    assert ("sonic-pi-samples", "drum_roll.flac", "several strokes (by name)") in {
        (s.kit, s.item, s.reason) for s in listing.left_out
    }
    assert {h.instrument_class for h in listing.hits} >= set(INSTRUMENT_CLASSES) - {"noise"}


def test_every_pack_trains() -> None:
    split = Split.load()
    assert {split.of(package) for package in samplepacks.SOURCES} == {TRAIN}


def test_stk_raw_waves_are_read_as_stk_reads_them() -> None:
    """Headerless 16-bit big-endian mono at 22,050 Hz: a kick of 0.1 s that peaks at
    full scale, as STK's Drummer plays it."""
    audio = samplepacks.read(RAWWAVES / "bassdrum.raw")
    assert audio.sample_rate == 22_050 and audio.channels == 1
    assert audio.frames.shape[0] == (RAWWAVES / "bassdrum.raw").stat().st_size // 2
    assert 0.09 < audio.duration_s < 0.11
    assert np.abs(audio.frames).max() == pytest.approx(1.0, abs=0.01)
    attack = int(np.argmax(np.abs(audio.frames[:, 0]) > 0.1))
    assert attack < 0.01 * audio.sample_rate, "byte order wrong: the kick does not start"


def test_rendering_is_the_file_and_bit_identical(listing: Listing) -> None:
    hit = next(h for h in listing.hits if h.source == "sonic-pi-samples")
    first, second = samplepacks.render(hit), samplepacks.render(hit)
    assert first.frames.tobytes() == second.frames.tobytes()
    assert np.array_equal(first.frames, audiofile.read(hit.recipe_fields()["file"]).frames)


def test_the_corpus_lists_them_with_augmented_copies_it_can_render(listing: Listing) -> None:
    hit = next(h for h in listing.hits if h.source == "stk")
    copy = augment.augmented_hits([hit], 1, seed=0)[0]
    assert copy.source == "stk" + AUGMENTED
    audio = corpus.render(copy)
    assert audio.frames.shape[0] > 0 and np.isfinite(audio.frames).all()


def test_a_missing_file_names_the_package_to_install() -> None:
    recipe = Hit.make_recipe(package="sonic-pi-samples", file="/nowhere/bd_gone.flac")
    with pytest.raises(PackageMissing, match="apt-get install sonic-pi-samples"):
        samplepacks.render(Hit("sonic-pi-samples", "sonic-pi-samples", "bd_gone", "kick", recipe))


def test_a_missing_package_stops_the_build_with_its_name_and_69(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    real = samplepacks.listing
    monkeypatch.setattr(
        samplepacks, "listing", lambda: real((Pack("timbrecast-no-such-pack", r"\.wav$"),))
    )
    monkeypatch.setattr(hydrogen, "listing", lambda: Listing([], []))
    monkeypatch.setattr(soundfonts, "listing", lambda: Listing([], []))
    monkeypatch.setattr(corpus, "committed_entries", lambda: [])
    monkeypatch.chdir(tmp_path)  # no drum machines either
    status = cli.main(["dataset", "build", "--store", "store", "--quiet", "--synthetic", "0"])
    err = capsys.readouterr().err
    assert status == 69, err
    assert (
        "timbrecast-no-such-pack is not installed: apt-get install timbrecast-no-such-pack" in err
    )


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("bd_haus", "kick"),
        ("drum_bass_soft", "kick"),
        ("bassdrum", "kick"),
        ("sn_dub", "snare"),
        ("snardrum", "snare"),
        ("drum_cymbal_closed", "hihat"),
        ("drum_cymbal_pedal", "hihat"),
        ("hihatcym", "hihat"),
        ("drum_splash_soft", "cymbal"),
        ("ridecymb", "cymbal"),
        ("tomlowdr", "tom"),
        ("tabla_na_s", "hand"),
        ("sidestick01", "rim"),
        ("tambourn", "perc"),
    ],
)
def test_instrument_classes(name: str, cls: str) -> None:
    assert samplepacks.instrument_class(name) == cls
