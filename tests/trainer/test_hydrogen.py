"""The Hydrogen kits of Debian as training one-shots, on the installed packages.

CI installs ``hydrogen-drumkits`` and ``hydrogen-data``; without them these
tests fail, naming the package to install.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from timbrecast.daemon import audiofile
from timbrecast.daemon.exitcodes import DATA, UNAVAILABLE
from timbrecast.trainer import cli, corpus, hydrogen, samplepacks, soundfonts
from timbrecast.trainer.hydrogen import Listing
from timbrecast.trainer.sources import INSTRUMENT_CLASSES, Hit, PackageMissing

#: Measured on hydrogen-drumkits 2017.09.19~dfsg-1 and hydrogen-data 1.2.0~beta1:
#: 689 hits in 16 kits (668 and 21 by package).
MIN_HITS = 680
MIN_KITS = 16


@pytest.fixture(scope="module")
def listing() -> Listing:
    try:
        return hydrogen.listing()
    except PackageMissing as exc:
        pytest.fail(str(exc))


def some_hits(listing: Listing) -> list[Hit]:
    """The first layer of a handful of kits: acoustic, electronic, hand, old layout."""
    wanted = ("The Black Pearl 1.0", "TR808EmulationKit", "circAfrique v4", "HardElectro1")
    return [next(h for h in listing.hits if h.kit == kit) for kit in wanted]


def test_counts_are_plausible(listing: Listing) -> None:
    assert len(listing.hits) >= MIN_HITS
    assert len({h.kit for h in listing.hits}) >= MIN_KITS
    by_package = Counter(h.source for h in listing.hits)
    assert by_package["hydrogen-drumkits"] >= 660
    assert by_package["hydrogen-data"] >= 20
    assert len({h.recipe for h in listing.hits}) == len(listing.hits)


def test_every_drum_class_is_present(listing: Listing) -> None:
    classes = Counter(h.instrument_class for h in listing.hits)
    assert set(classes) == set(INSTRUMENT_CLASSES) - {"noise"}
    assert min(classes.values()) >= 15


def test_what_is_left_out_is_counted_by_reason(listing: Listing) -> None:
    reasons = listing.skipped
    assert reasons["missing file"] == 17  # Millo_MultiLayered2 names files Debian lacks
    assert reasons["silent"] == 16  # Millo-Drums_v.1's emptySample.flac placeholders
    assert reasons["duplicate audio"] >= 100
    assert reasons["several strokes (by name)"] >= 20
    assert reasons["several strokes (second attack)"] >= 10
    assert reasons["held tone"] >= 1
    listed = {(h.kit, h.instrument) for h in listing.hits}
    assert ("BJA_Pacific", "Snare Roll") not in listed
    assert ("The Black Pearl 1.0", "Sabian Hat Swish") not in listed
    assert ("Audiophob", "Cowbell") not in listed


def test_a_recording_is_in_one_kit_only(listing: Listing) -> None:
    """GMRockKit reuses The Black Pearl's recordings; only its own ride stays."""
    gmrock = {h.instrument for h in listing.hits if h.kit == "GMRockKit"}
    assert gmrock == {"Ride 2"}
    assert sum(h.kit == "The Black Pearl 1.0" for h in listing.hits) >= 90


def test_kits_carry_their_licence() -> None:
    licences = {kit.name: kit.license for kit in hydrogen.kits()}
    assert licences["Audiophob"].startswith("This work is licensed under the Creative Commons 0")
    assert licences["Millo_MultiLayered2"] == "GPL"  # spelt <licence> in this kit
    assert sum(bool(text) for text in licences.values()) >= len(licences) - 1


def test_every_velocity_layer_is_a_hit(listing: Listing) -> None:
    kicks = [h for h in listing.hits if (h.kit, h.instrument) == ("BJA_Pacific", "BassDrum")]
    assert len(kicks) == 8
    ranges = sorted((f["velocity_min"], f["velocity_max"]) for f in map(Hit.recipe_fields, kicks))
    assert ranges[0][0] == 0.0 and ranges[-1][1] == 1.0
    assert all(low < high for low, high in ranges)


def test_rendered_hits_are_clean_one_shots(listing: Listing) -> None:
    for hit in some_hits(listing):
        audio = hydrogen.render(hit)
        level = np.abs(audio.frames).max(axis=1)
        assert np.isfinite(audio.frames).all(), hit
        assert level.max() > 0.01, hit
        attack = int(np.argmax(level >= 0.1 * level.max()))
        assert attack <= 0.02 * audio.sample_rate, hit


def test_rendering_is_the_file_and_bit_identical(listing: Listing) -> None:
    hit = some_hits(listing)[0]
    first, second = hydrogen.render(hit), hydrogen.render(hit)
    assert first.sample_rate == second.sample_rate
    assert first.frames.tobytes() == second.frames.tobytes()
    fields = hit.recipe_fields()
    path = hydrogen.DRUMKITS / fields["directory"] / fields["file"]
    assert np.array_equal(first.frames, audiofile.read(path).frames)


def test_a_missing_file_names_the_package_to_install() -> None:
    recipe = Hit.make_recipe(
        package="hydrogen-drumkits", kit="Gone", directory="Gone", file="x.flac",
        instrument="Kick", velocity_min=0.0, velocity_max=1.0,
    )  # fmt: skip
    with pytest.raises(PackageMissing, match="apt-get install hydrogen-drumkits"):
        hydrogen.render(Hit("hydrogen-drumkits", "Gone", "Kick", "kick", recipe))


def test_a_missing_package_names_itself() -> None:
    with pytest.raises(PackageMissing, match="apt-get install timbrecast-no-such-kits"):
        hydrogen.kit_directories(("timbrecast-no-such-kits",))


def only_hydrogen(monkeypatch, tmp_path: Path, package: str) -> None:
    """A build whose only source is the Hydrogen kits of ``package``."""
    real = hydrogen.listing
    monkeypatch.setattr(hydrogen, "listing", lambda: real((package,)))
    monkeypatch.setattr(samplepacks, "listing", lambda: Listing([], []))
    monkeypatch.setattr(soundfonts, "listing", lambda: Listing([], []))
    monkeypatch.setattr(corpus, "committed_entries", lambda: [])
    monkeypatch.chdir(tmp_path)  # no drum machines either


def build(capsys) -> tuple[int, str]:
    status = cli.main(["dataset", "build", "--store", "store", "--quiet", "--synthetic", "0"])
    return status, capsys.readouterr().err


def test_a_missing_package_stops_the_build_with_its_name_and_69(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    only_hydrogen(monkeypatch, tmp_path, "timbrecast-no-such-kits")
    status, err = build(capsys)
    assert status == UNAVAILABLE, err
    assert (
        "timbrecast-no-such-kits is not installed: apt-get install timbrecast-no-such-kits" in err
    )


def test_a_broken_kit_stops_the_build_naming_its_file_and_65(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    kit = tmp_path / "Broken"
    kit.mkdir()
    (kit / "drumkit.xml").write_text("<drumkit_info><name>Broken</name>")
    only_hydrogen(monkeypatch, tmp_path, "hydrogen-drumkits")
    # dpkg lists what Debian ships, which is sound: this kit stands in for a damaged install.
    monkeypatch.setattr(hydrogen, "kit_directories", lambda packages: [(packages[0], kit)])
    status, err = build(capsys)
    assert status == DATA, err
    assert f"{kit}/drumkit.xml" in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("Kick Lite 1", "kick"),
        ("c3 - bass drum 1", "kick"),
        ("BassDrum", "kick"),
        ("Snare Rimshot", "snare"),
        ("Snare1", "snare"),
        ("tomhi2", "tom"),
        ("Pearl Tom Floor", "tom"),
        ('Hi-Hat Pedal (Paiste Alpha Metal edge 14")', "hihat"),
        ("Side HH", "hihat"),
        ("Closed HH 1", "hihat"),
        ("Sabian Hat Choke", "hihat"),
        ("Ride Bell", "cymbal"),
        ("Paiste Bell", "cymbal"),
        ('China (Paiste Alpha 18")', "cymbal"),
        ("Hand Clap", "clap"),
        ("Pearl Side Stick", "rim"),
        ("Rim Click (Pearl Free Floating Maple 14x3.5)", "rim"),
        ("Cowbell", "cowbell"),
        ("Sangban1 Bell Hit", "cowbell"),
        ("Djembe1 Bass", "hand"),
        ("Cajon Thump", "hand"),
        ("Conga 1", "hand"),
        ("Whistle", "perc"),
        ("Sample: beats_01-10.flac", "perc"),
    ],
)
def test_instrument_names_map_to_classes(name: str, cls: str) -> None:
    assert hydrogen.instrument_class(name) == cls


KIT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>Test Kit</name>
 <license>GPL</license>
 <instrumentList>
  <instrument><name>Old Kick</name><filename>old.flac</filename></instrument>
  <instrument><name>Snare</name>
   <layer><filename>s1.wav</filename><min>0</min><max>0.5</max></layer>
   <layer><filename>s2.wav</filename><min>0.5</min><max>1</max></layer>
  </instrument>
  <instrument><name>Hat</name>
   <instrumentComponent><component_id>0</component_id>
    <layer><filename>h.wav</filename><min>0.2</min><max>0.8</max></layer>
   </instrumentComponent>
  </instrument>
  <instrument><name>Empty slot</name></instrument>
 </instrumentList>
</drumkit_info>
"""


def test_all_three_kit_layouts_are_read(tmp_path: Path) -> None:
    (tmp_path / "drumkit.xml").write_text(KIT_XML)
    kit = hydrogen.parse_kit("hydrogen-data", tmp_path)
    assert (kit.name, kit.license) == ("Test Kit", "GPL")
    assert [(x.instrument, x.file, x.velocity_min, x.velocity_max) for x in kit.layers] == [
        ("Old Kick", "old.flac", 0.0, 1.0),
        ("Snare", "s1.wav", 0.0, 0.5),
        ("Snare", "s2.wav", 0.5, 1.0),
        ("Hat", "h.wav", 0.2, 0.8),
    ]


def envelope(*strokes: tuple[float, float], seconds: float = 1.0) -> np.ndarray:
    """Envelope in dB (10 ms steps) of strokes at (time s, level dB) decaying 60 dB/s."""
    t = np.arange(round(seconds / hydrogen.ENVELOPE_HOP_S)) * hydrogen.ENVELOPE_HOP_S
    levels = [np.where(t >= at, level - 60 * (t - at), -200.0) for at, level in strokes]
    power = sum(10 ** (lv / 10) for lv in levels)
    db = 10 * np.log10(power)
    return db - db.max()


def test_a_second_stroke_is_found_and_a_flam_is_not() -> None:
    assert not hydrogen.second_attack(envelope((0.0, 0.0)))
    assert not hydrogen.second_attack(envelope((0.0, -3.0), (0.03, 0.0)))
    assert hydrogen.second_attack(envelope((0.0, 0.0), (0.4, 0.0)))
    assert not hydrogen.second_attack(envelope((0.0, 0.0), (0.4, -15.0)))


def test_a_held_tone_is_found() -> None:
    assert hydrogen.holds(np.zeros(100))
    assert not hydrogen.holds(envelope((0.0, 0.0)))
