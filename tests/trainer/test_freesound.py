"""The Freesound one-shot dataset from its on-disk layout, offline, with its own labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.trainer.test_corpus import Bar
from timbrecast.daemon.contract import DESCRIPTORS
from timbrecast.trainer import corpus, freesound
from timbrecast.trainer.labelcache import LabelCache


def write_tree(root: Path) -> None:
    rng = np.random.default_rng(0)
    for folder, clip_id, keys in (
        ("0", "101", DESCRIPTORS),
        ("0", "102", DESCRIPTORS[:-1]),
        ("1", "201", DESCRIPTORS),
        ("1", "202", None),
    ):
        audio_dir = root / freesound.AUDIO_DIR / folder
        audio_dir.mkdir(parents=True, exist_ok=True)
        t = np.arange(8000) / 16000
        hit = np.sin(2 * np.pi * 200 * t) * np.exp(-t / 0.05) + 0.01 * rng.normal(size=t.size)
        soundfile.write(audio_dir / f"{clip_id}.wav", hit.astype(np.float32), 16000)
        if keys is None:
            continue
        analysis_dir = root / freesound.ANALYSIS_DIR / folder
        analysis_dir.mkdir(parents=True, exist_ok=True)
        body = {name: 10.0 + i for i, name in enumerate(keys)} | {"loudness": -20.0}
        (analysis_dir / f"{clip_id}_analysis.json").write_text(json.dumps(body))


def test_clips_with_all_labels_are_listed_the_rest_counted(tmp_path: Path) -> None:
    write_tree(tmp_path)
    listing = freesound.listing(tmp_path)
    assert sorted(h.instrument for h in listing.hits) == ["101", "201"]
    assert listing.skipped == {"analysis lacks boominess": 1, "no analysis file": 1}
    assert freesound.labels(listing.hits[0]) == tuple(10.0 + i for i in range(7))
    assert {h.kit for h in listing.hits} == {"freesound-0", "freesound-1"}


def test_dataset_labels_are_used_not_the_teachers(tmp_path: Path) -> None:
    write_tree(tmp_path / "fs")
    hits = freesound.listing(tmp_path / "fs").hits
    entries, report = corpus.build(hits, tmp_path / "store", LabelCache(tmp_path / "c.db"), 1, Bar)
    assert report.labelled_now == 0
    assert [e.labels for e in entries] == [freesound.labels(h) for h in hits]


def test_a_folder_that_is_not_the_dataset_is_named(tmp_path: Path) -> None:
    with pytest.raises(freesound.FreesoundError, match="no one_shot_percussive_sounds"):
        freesound.listing(tmp_path)
