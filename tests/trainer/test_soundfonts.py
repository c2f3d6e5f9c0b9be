"""General MIDI drum kits of Debian's SoundFonts and freepats, on the installed packages.

CI installs ``timgm6mb-soundfont``, ``csound-soundfont``, ``opl3-soundfont``,
``freepats``, ``fluidsynth`` and ``timidity``; without them these tests fail,
naming the package to install.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from timbrecast.daemon import audiofile
from timbrecast.trainer import soundfonts
from timbrecast.trainer.soundfonts import Listing, SoundFont, SoundFontError
from timbrecast.trainer.sources import INSTRUMENT_CLASSES, Hit

#: Measured with the Debian 12 packages: 239 hits (TimGM6mb 119, csound 31,
#: OPL-3 42, freepats 47).
MIN_HITS = {"timgm6mb-GM": 110, "csound-GM": 25, "opl3-GM": 40, "freepats-GM": 45}


@pytest.fixture(scope="module")
def listing() -> Listing:
    for tool in ("fluidsynth", "timidity"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: apt-get install {tool}")
    try:
        return soundfonts.listing()
    except SoundFontError as exc:
        pytest.fail(str(exc))


def find(listing: Listing, kit: str, note: int, preset: str | None = None) -> Hit:
    return next(
        h
        for h in listing.hits
        if h.kit == kit
        and h.recipe_fields()["note"] == note
        and preset in (None, h.recipe_fields().get("preset"))
    )


def some_hits(listing: Listing) -> list[Hit]:
    """A hit of every kit: TimGM6mb's kick and hi-hat, OPL-3's snare, csound, freepats."""
    return [
        find(listing, "timgm6mb-GM", 36, "Standard"),
        find(listing, "timgm6mb-GM", 42, "Standard"),
        find(listing, "opl3-GM", 38),
        next(h for h in listing.hits if h.kit == "csound-GM"),
        find(listing, "freepats-GM", 38),
    ]


def test_counts_are_plausible(listing: Listing) -> None:
    by_kit = Counter(h.kit for h in listing.hits)
    assert set(by_kit) == set(MIN_HITS)
    for kit, least in MIN_HITS.items():
        assert by_kit[kit] >= least, kit
    assert len({h.recipe for h in listing.hits}) == len(listing.hits)
    for hit in listing.hits:
        fields = hit.recipe_fields()
        assert 35 <= fields["note"] <= 81
        assert fields["velocity"] == 127
        assert hit.source == fields["package"]
        assert hit.instrument == soundfonts.GM_PERCUSSION[fields["note"]][0]


def test_every_drum_class_is_present(listing: Listing) -> None:
    classes = Counter(h.instrument_class for h in listing.hits)
    assert set(classes) == set(INSTRUMENT_CLASSES) - {"noise"}


def test_what_is_left_out_is_counted_by_reason(listing: Listing) -> None:
    reasons = listing.skipped
    assert reasons["duplicate sound"] >= 600
    assert reasons["no sample for the note"] >= 10
    assert reasons["sound-effects preset"] >= 40


def test_a_shared_recording_is_in_one_kit_only(listing: Listing) -> None:
    """csound's Standard kit is TimGM6mb's recordings: it adds one sound at most."""
    standard = [h for h in listing.hits if h.recipe_fields().get("preset") == "Standard"]
    assert sum(h.kit == "timgm6mb-GM" for h in standard) == 47
    assert sum(h.kit == "csound-GM" for h in standard) <= 2


def test_duplicates_are_exact_in_a_kit_and_near_across_kits() -> None:
    body, click = ("Tom", -56), ("Filter Snap", 635)
    listed = [("a", frozenset({body, click}))]
    assert soundfonts.duplicate(frozenset({body, click}), "a", listed)
    assert not soundfonts.duplicate(frozenset({body}), "a", listed)
    assert soundfonts.duplicate(frozenset({body}), "b", listed)
    assert not soundfonts.duplicate(frozenset({("Tom", -156)}), "b", listed)


def test_the_soundfonts_are_read() -> None:
    timgm6mb = soundfonts.SOUNDFONTS[0].path
    if not timgm6mb.is_file():
        pytest.fail(f"{timgm6mb} is missing: apt-get install timgm6mb-soundfont")
    presets = soundfonts.drum_presets(timgm6mb)
    assert [p.program for p in presets] == [0, 8, 16, 24, 25, 32, 40, 48]
    assert presets[0].name == "Standard"
    assert sorted(presets[0].voices) == sorted(soundfonts.GM_PERCUSSION)
    assert sorted(soundfonts.freepats_drums()) == sorted(soundfonts.GM_PERCUSSION)


def test_rendered_hits_are_clean_one_shots(listing: Listing) -> None:
    for hit in some_hits(listing):
        audio = soundfonts.render(hit)
        level = np.abs(audio.frames).max(axis=1)
        assert audio.sample_rate == soundfonts.SAMPLE_RATE, hit
        assert np.isfinite(audio.frames).all(), hit
        assert 0.01 < level.max() < 1.0, hit
        assert audio.duration_s <= soundfonts.MAX_SECONDS, hit
        attack = int(np.argmax(level >= 0.1 * level.max()))
        assert attack <= 0.02 * audio.sample_rate, hit


def test_rendering_is_bit_identical(listing: Listing) -> None:
    for hit in (find(listing, "timgm6mb-GM", 38, "Standard"), find(listing, "freepats-GM", 46)):
        first = soundfonts.render(hit)
        soundfonts._freepats_notes.cache_clear()  # a second timidity run, not the kept one
        second = soundfonts.render(hit)
        assert first.frames.dtype == second.frames.dtype
        assert first.frames.tobytes() == second.frames.tobytes(), hit


def test_a_freepats_note_comes_out_of_the_batch_as_it_does_alone(
    listing: Listing, tmp_path: Path
) -> None:
    """timidity renders every freepats note in one process (a process costs a
    second): the notes after the first must not carry anything of the ones before."""
    soundfonts._freepats_notes.cache_clear()
    for note in (35, 46, 81):
        hit = find(listing, "freepats-GM", note)
        fields = hit.recipe_fields()
        (tmp_path / "alone.mid").write_bytes(
            soundfonts.midi_file(note, fields["velocity"], fields["program"])
        )
        command = soundfonts._timidity(fields, ["alone.mid"])
        subprocess.run(command, cwd=tmp_path, capture_output=True, check=True)
        alone = audiofile.read(tmp_path / "alone.wav")
        frames = soundfonts.trim(alone.frames, alone.sample_rate)
        assert soundfonts.render(hit).frames.tobytes() == frames.tobytes(), note


def test_the_midi_file_is_one_drum_note() -> None:
    mido = pytest.importorskip("mido")
    import io

    song = mido.MidiFile(file=io.BytesIO(soundfonts.midi_file(38, 127, 25)))
    assert song.type == 0 and song.ticks_per_beat == soundfonts.TICKS_PER_QUARTER
    voice = [m for m in song.tracks[0] if not m.is_meta]
    assert [(m.type, m.channel) for m in voice] == [
        ("program_change", 9),
        ("note_on", 9),
        ("note_off", 9),
    ]
    assert (voice[0].program, voice[1].note, voice[1].velocity) == (25, 38, 127)
    assert song.length == pytest.approx(soundfonts.MAX_SECONDS + 0.1)
    assert voice[2].time == soundfonts.HOLD_MS


def test_trim_cuts_the_silent_tail_and_caps_the_length() -> None:
    rate = 1000
    decay = np.exp(-np.arange(3 * rate) / 50.0)[:, None].astype(np.float32)
    trimmed = soundfonts.trim(decay, rate)
    assert len(trimmed) == int(np.ceil(50 * np.log(1000))) and trimmed[-1, 0] >= 1e-3
    ring = np.ones((5 * rate, 2), dtype=np.float32)
    assert len(soundfonts.trim(ring, rate)) == soundfonts.MAX_SECONDS * rate


def test_a_missing_soundfont_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    gone = SoundFont("timgm6mb-soundfont", "timgm6mb-GM", Path("/nonexistent/TimGM6mb.sf2"))
    monkeypatch.setattr(soundfonts, "SOUNDFONTS", (gone,))
    with pytest.raises(SoundFontError, match="apt-get install timgm6mb-soundfont"):
        soundfonts.listing()
    recipe = Hit.make_recipe(
        package="timgm6mb-soundfont", note=38, velocity=127, program=0,
        preset="Standard", gain=0.4, sample_rate=44100,
    )  # fmt: skip
    with pytest.raises(SoundFontError, match="apt-get install timgm6mb-soundfont"):
        soundfonts.render(Hit("timgm6mb-soundfont", "timgm6mb-GM", "Snare", "snare", recipe))
