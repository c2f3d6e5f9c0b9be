"""``trainer label``: the teacher's labels for any clips, cached and resumable."""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from timbrecast.daemon import audiofile, exitcodes
from timbrecast.daemon.contract import DESCRIPTORS, SAMPLE_RATE
from timbrecast.daemon.preprocess import PreprocessError, prepare


def cmd_label(args: argparse.Namespace) -> int:
    """Label every clip with the teacher, on the exact model input."""
    from tqdm import tqdm

    from timbrecast.trainer.labelcache import (
        LabelCache,
        clip_key,
        default_path,
        dequantise,
        quantise,
    )
    from timbrecast.trainer.labeler import Clip, label_clips

    expansion = audiofile.expand(args.paths)
    files = expansion.files
    failures = [(folder, "folder not read") for folder in expansion.unreadable]
    progress = tqdm(total=len(files), unit="clip", desc="labelling", disable=args.quiet)

    def clips() -> Iterator[Clip]:
        for path in files:
            try:
                audio = audiofile.read(path)
                model_input = prepare(audio.frames, audio.sample_rate)
            except (audiofile.AudioFileError, PreprocessError) as exc:
                failures.append((str(path), str(exc)))
                progress.update(1)
                continue
            yield Clip(str(path), clip_key(model_input), dequantise(quantise(model_input)))

    cache = LabelCache(args.cache or default_path())
    labelled = from_cache = 0
    # Rows go to OUT.partial, each flushed as it comes: a killed run leaves them there
    # (and in the cache, so a rerun finishes at once) and never touches an older OUT.
    partial = args.out.with_name(args.out.name + ".partial")
    with contextlib.suppress(OSError):  # a folder that cannot be made is named just below
        args.out.parent.mkdir(parents=True, exist_ok=True)
    with exitcodes.open_output(partial, newline="") as handle, progress:
        writer = csv.writer(handle)
        writer.writerow(["path", "key", *DESCRIPTORS])
        for outcome in label_clips(clips(), cache, args.jobs):
            progress.update(1)
            if outcome.values is None:
                failures.append((outcome.name, f"teacher: {outcome.error}"))
                continue
            writer.writerow([outcome.name, outcome.key, *(f"{v:.4f}" for v in outcome.values)])
            handle.flush()
            labelled += 1
            from_cache += outcome.cached
    partial.replace(args.out)
    cache.close()
    for name, reason in failures:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(
        f"labelled {labelled} of {len(files)} clips ({from_cache} from the cache), "
        f"{len(failures)} skipped; wrote {args.out}",
        file=sys.stderr,
    )
    return exitcodes.DATA if failures else exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    label = commands.add_parser(
        "label",
        help="label one-shots with the AudioCommons teacher",
        description=(
            "Label each clip with timbral_models 0.4.0 on its exact model input "
            f"(mono, {SAMPLE_RATE} Hz, attack-aligned, 1 s, peak-normalised). Results are "
            "cached by content, so a killed run resumes and a repeated one is instant. "
            "Clips the teacher cannot label are listed with the reason and left out."
        ),
        epilog="example: trainer label ~/samples --out labels.csv --jobs 2",
    )
    label.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    label.add_argument("--out", type=Path, required=True, help="CSV to write")
    label.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: all cores)",
    )
    label.add_argument("--cache", type=Path, help="label cache (default: ~/.cache/timbrecast)")
    label.add_argument("--quiet", action="store_true", help="no progress bar")
    label.set_defaults(func=cmd_label)
