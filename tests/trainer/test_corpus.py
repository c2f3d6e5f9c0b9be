"""Corpus building: render, key, verify against committed labels, label only the rest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from timbrecast.trainer import augment, corpus, hydrogen, synth
from timbrecast.trainer.labelcache import LabelCache
from timbrecast.trainer.sources import AUGMENTED, Hit
from timbrecast.trainer.split import MACHINES, TEST, TRAIN, VALIDATION, Split

DRUM_MACHINES = Path(__file__).resolve().parents[2].parent / "shared/data/drum-machines"


class Bar:
    def __init__(self, total: int, label: str) -> None:
        self.count = 0

    def update(self, n: int) -> None:
        self.count += n

    def close(self) -> None:
        pass


def test_build_labels_then_verifies_instead_of_relabelling(small_hits, tmp_path: Path) -> None:
    cache = LabelCache(tmp_path / "labels.db")
    entries, report = corpus.build(small_hits, tmp_path / "a", cache, 2, Bar)
    assert report.clips == len(small_hits) == len(entries)
    assert report.new == len(small_hits) and report.labelled_now == len(small_hits)
    assert all(e.labels is not None and len(e.labels) == 7 for e in entries)
    committed = tmp_path / "corpus.jsonl.gz"
    corpus.write_entries(entries, committed)
    again = corpus.committed_entries(committed)
    assert [e.key for e in again] == [e.key for e in entries]

    # A fresh machine: an empty label cache, the committed labels, the same audio.
    fresh = LabelCache(tmp_path / "fresh.db")
    rebuilt, report = corpus.build(small_hits, tmp_path / "b", fresh, 2, Bar, again)
    assert report.verified == len(small_hits) and report.labelled_now == 0
    assert [e.labels for e in rebuilt] == [e.labels for e in again]

    # A clip whose audio no longer matches is relabelled, not trusted.
    tampered = [again[0].__class__(again[0].hit, "0" * 64, (0.0,) * 7), *again[1:]]
    third = LabelCache(tmp_path / "third.db")
    rebuilt, report = corpus.build(small_hits, tmp_path / "c", third, 2, Bar, tampered)
    assert report.mismatched == 1 and report.labelled_now == 1
    assert rebuilt[0].labels == entries[0].labels

    entries_back, clips = corpus.load(tmp_path / "c")
    assert clips.shape == (len(small_hits), 16000) and clips.dtype == np.int16
    assert [e.key for e in entries_back] == [e.key for e in entries]


def test_render_is_deterministic_for_every_source(small_hits) -> None:
    for hit in small_hits:
        first, second = corpus.render(hit), corpus.render(hit)
        assert np.array_equal(first.frames, second.frames), hit.source


def test_user_folders_are_kits(tmp_path: Path) -> None:
    import soundfile

    for kit in ("brushes", "sticks"):
        (tmp_path / "mine" / kit).mkdir(parents=True)
        soundfile.write(tmp_path / "mine" / kit / "a.wav", np.ones(100) * 0.1, 16000)
    (tmp_path / "mine" / "notes.txt").write_text("not audio")
    hits = corpus.user_hits(tmp_path / "mine")
    assert sorted(h.kit for h in hits) == ["mine/brushes", "mine/sticks"]
    assert all(corpus.render(h).frames.shape == (100, 1) for h in hits)


def test_the_split_holds_out_whole_kits_that_exist() -> None:
    split = Split.load()
    real = hydrogen.listing().hits
    kits = {h.kit for h in real}
    from timbrecast.trainer import soundfonts

    kits |= {h.kit for h in soundfonts.listing().hits}
    held_out = split.validation | split.test
    named = {k for k in held_out if not k.startswith(("synthetic-", MACHINES))}
    assert named <= kits, named - kits
    # The drum machines are checked where their collection is (CI has it beside).
    if DRUM_MACHINES.is_dir():
        machines = {MACHINES + p.name for p in DRUM_MACHINES.iterdir() if p.is_dir()}
        named_machines = {k for k in held_out if k.startswith(MACHINES)}
        assert named_machines and named_machines <= machines, named_machines - machines
    sides = {split.of(k) for k in kits}
    assert sides == {TRAIN, VALIDATION, TEST}
    copies = augment.augmented_hits(real[:20], 2, seed=0)
    assert all(split.of(c.kit) == split.of(augment.base_hit(c).kit) for c in copies)
    with pytest.raises(ValueError, match="both"):
        Split(frozenset({"a"}), frozenset({"a"}))


def test_verify_renders_and_compares_hashes(small_hits, tmp_path: Path) -> None:
    entries, _ = corpus.build(small_hits, tmp_path / "a", LabelCache(tmp_path / "l.db"), 2, Bar)
    result = corpus.verify(entries, tmp_path / "v", 2, Bar)
    assert result.matched == len(entries) and not result.mismatched
    first, second = entries[:2]
    tampered = [
        corpus.Entry(first.hit, "f" * 64, first.labels, heard=first.heard),
        corpus.Entry(second.hit, second.key, second.labels, heard="e" * 64),
        *entries[2:],
    ]
    result = corpus.verify(tampered, tmp_path / "w", 2, Bar)
    # The model input decides; a view hashed otherwise (another CPU's last bits) does not.
    assert result.matched == len(entries) - 1 and result.mismatched == tampered[:1]


def test_a_users_own_labels_replace_the_teachers_for_the_clips_they_name(
    parity_dir: Path, tmp_path: Path
) -> None:
    import shutil

    kit = tmp_path / "mine" / "kit"
    kit.mkdir(parents=True)
    for name in ("gmrockkit-Kick-Softest.wav", "gmrockkit-Snare-Hard.wav"):
        shutil.copy(parity_dir / name, kit / name)
    hits = corpus.user_hits(tmp_path / "mine")
    mine = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0)
    rated = str((kit / "gmrockkit-Kick-Softest.wav").resolve())
    nowhere = str(tmp_path / "elsewhere.wav")
    entries, report = corpus.build(
        hits,
        tmp_path / "store",
        LabelCache(tmp_path / "l.db"),
        1,
        Bar,
        [],
        {rated: mine, nowhere: mine},
    )
    by_name = {e.hit.instrument: e for e in entries}
    assert by_name["gmrockkit-Kick-Softest"].labels == mine
    assert by_name["gmrockkit-Snare-Hard"].labels not in (None, mine)  # the teacher's
    assert (report.user_labelled, report.labelled_now, report.unmatched_labels) == (1, 1, [nowhere])


def test_a_stopped_build_leaves_the_rest_pending_and_stale_labels_are_relabelled(
    small_hits, tmp_path: Path
) -> None:
    stopped, report = corpus.build(
        small_hits, tmp_path / "a", LabelCache(tmp_path / "a.db"), 2, Bar, stop_after=0.0
    )
    assert (report.pending, report.labelled_now, report.failed) == (len(small_hits), 0, [])
    assert all(e.pending and e.heard for e in stopped)
    committed = tmp_path / "corpus.jsonl.gz"
    corpus.write_entries(stopped, committed)
    pending = corpus.committed_entries(committed)
    assert all(e.pending for e in pending)

    # The next sitting labels what was left: pending is not a verdict to trust.
    done, report = corpus.build(
        small_hits, tmp_path / "b", LabelCache(tmp_path / "b.db"), 2, Bar, pending
    )
    assert report.verified == report.labelled_now == len(small_hits)
    assert report.pending == 0 and all(e.labels is not None for e in done)

    # A build stopped at once still takes every label it knows: none goes pending.
    kept, report = corpus.build(
        small_hits, tmp_path / "d", LabelCache(tmp_path / "d.db"), 2, Bar, done, stop_after=0.0
    )
    assert (report.pending, report.labelled_now) == (0, 0)
    assert [e.labels for e in kept] == [e.labels for e in done]

    # Committed on a CPU whose views differ in their last bits (another view hash, the
    # same model input): the committed labels stand, and the teacher is not asked.
    elsewhere = [corpus.Entry(e.hit, e.key, (1.0,) * 7, heard="e" * 64) for e in done]
    taken, report = corpus.build(
        small_hits, tmp_path / "e", LabelCache(tmp_path / "e.db"), 2, Bar, elsewhere
    )
    assert (report.stale, report.labelled_now) == (0, 0)
    assert [e.labels for e in taken] == [(1.0,) * 7] * len(small_hits)

    # Labels of another view of the hits (a corpus from before ``heard``) are stale.
    before = [corpus.Entry(e.hit, e.key, (0.0,) * 7) for e in done]
    again, report = corpus.build(
        small_hits, tmp_path / "c", LabelCache(tmp_path / "c.db"), 2, Bar, before
    )
    assert report.stale == report.labelled_now == len(small_hits)
    # The teacher's hardness wanders by hundredths of a point from run to run.
    assert np.allclose([e.labels for e in again], [e.labels for e in done], atol=0.1)


def test_held_out_kits_are_labelled_first_and_real_hits_before_copies() -> None:
    split = Split.load()
    hits = [
        Hit("hydrogen" + AUGMENTED, "no such kit", "i", "perc", "{}"),
        Hit(synth.SOURCE, "no such kit", "i", "perc", "{}"),
        Hit("hydrogen", "no such kit", "i", "perc", "{}"),
        Hit("hydrogen", min(split.validation), "i", "perc", "{}"),
        Hit("hydrogen" + AUGMENTED, min(split.test), "i", "perc", "{}"),
    ]
    assert corpus.label_order(hits, [0, 1, 2, 3, 4]) == [4, 3, 2, 1, 0]
