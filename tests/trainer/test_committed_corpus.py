"""The committed corpus rebuilds on this machine: every recipe renders to its hash.

This renders all ~15,000 clips from Debian's packages and the generators (a few
minutes on two cores) and labels nothing: a match means the committed label
describes exactly the audio this machine would train on.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.trainer.test_corpus import Bar
from timbrecast.trainer import corpus


@pytest.mark.slow
def test_every_committed_clip_renders_to_its_hash(tmp_path: Path) -> None:
    committed = corpus.committed_entries()
    assert len(committed) >= 15_000
    labelled = [e for e in committed if e.labels is not None]
    assert len(labelled) >= 15_000
    result = corpus.verify(committed, tmp_path, os.cpu_count() or 1, Bar)
    differing = [f"{e.hit.source} {e.hit.kit} {e.hit.instrument}"
                 for e in result.mismatched + result.unrenderable]
    assert not differing, f"{len(differing)} clips differ, e.g. {differing[:5]}"
    assert result.matched == len([e for e in committed if e.key])
