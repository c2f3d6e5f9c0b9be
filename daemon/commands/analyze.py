"""``timbrecastd analyze``: hits of files (or, ``--oneshot``, files as hits) as JSON lines."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from timbrecast.daemon import audiofile, exitcodes
from timbrecast.daemon.analysis import (
    Hit,
    Tally,
    analyze,
    analyze_files,
    load_model,
    tag_files,
)
from timbrecast.daemon.commands.flags import (
    add_detector_flags,
    add_model_flags,
    detector_settings,
    stop_on_signals,
)
from timbrecast.daemon.contract import DESCRIPTORS


def hit_record(path: Path, hit: Hit) -> dict[str, Any]:
    """One hit as ``analyze`` writes it (one JSON object per line)."""
    return {
        "file": str(path),
        "source": hit.source,
        "seq": hit.seq,
        "onset_s": round(hit.onset_s, 6),
        "peak_dbfs": round(hit.peak_dbfs, 2),
        "rms_dbfs": round(hit.rms_dbfs, 2),
        "audio_s": round(hit.audio_s, 4),
        "descriptors": {k: round(v, 3) for k, v in hit.descriptors.items()},
        "model_id": hit.model_id,
    }


#: ``--csv`` columns: the record's fields with the descriptors flattened, in order.
CSV_COLUMNS = (
    "file",
    "source",
    "seq",
    "onset_s",
    "peak_dbfs",
    "rms_dbfs",
    "audio_s",
    *DESCRIPTORS,
    "model_id",
)


def csv_row(record: dict[str, Any]) -> list[Any]:
    """A ``hit_record`` as a ``--csv`` row (``CSV_COLUMNS``)."""
    flat = {**record, **record["descriptors"]}
    return [flat[column] for column in CSV_COLUMNS]


def cmd_analyze(args: argparse.Namespace) -> int:
    """Hits of files as JSON lines (and/or a CSV table): onset, level, the seven
    descriptors.

    Each file's records are written and flushed as soon as it is done, so a
    stopped run (SIGTERM, Ctrl-C: the file at hand is finished first) or a
    killed one keeps every file that was finished.
    """
    model = load_model(args.model, args.runtime, args.threads)
    settings = detector_settings(args)
    expansion = audiofile.expand(args.files)
    paths = expansion.files
    tally = Tally()
    stop = stop_on_signals()
    out = exitcodes.open_output(args.jsonl) if args.jsonl else None
    table = exitcodes.open_output(args.csv, newline="") if args.csv else None
    if out is None and table is None:
        out = sys.stdout
    rows = csv.writer(table) if table else None
    if rows:
        rows.writerow(CSV_COLUMNS)
    hits = 0
    names = args.sources.split(",") if args.sources else None

    def analyse(path: Path) -> list[Hit]:
        return analyze(
            path,
            model=model,
            settings=settings,
            full_second=args.full_second,
            mix=args.mix,
            sources=names,
        )

    if args.oneshot:
        batches = tag_files(paths, model, tally, stop)
    else:
        batches = analyze_files(paths, analyse, tally, stop)
    try:
        for batch in batches:
            for path, hit in batch:
                record = hit_record(path, hit)
                if out:
                    out.write(json.dumps(record) + "\n")
                if rows:
                    rows.writerow(csv_row(record))
                hits += 1
            for stream in (out, table):
                if stream:
                    stream.flush()
    finally:
        for stream in (out, table):
            if stream and stream is not sys.stdout:
                stream.close()
    for line in [f"folder {entry}" for entry in expansion.unreadable] + tally.skipped:
        print(f"skipped {line}", file=sys.stderr)
    left = len(paths) - tally.done - len(tally.skipped)
    stopped = f"; stopped by a signal, {left} files not read" if stop.is_set() else ""
    folders = f", {len(expansion.unreadable)} folders not read" if expansion.unreadable else ""
    print(
        f"{hits} hits from {tally.done} of {len(paths)} files, "
        f"{len(tally.skipped)} skipped{folders}{stopped} (model {model.model_id})",
        file=sys.stderr,
    )
    return exitcodes.DATA if tally.skipped or expansion.unreadable else exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    analyze = commands.add_parser(
        "analyze",
        help="hits of audio files as JSON lines (the live pipeline, as fast as it goes)",
        description="Run the daemon's own pipeline over files as fast as possible and "
        "write one JSON object per hit: file, source, onset_s, peak_dbfs, rms_dbfs, "
        "descriptors. Each channel is a source, as in `run`: named by --sources, else in1, "
        "in2, ...; a mono file's one source is named after the file.",
        epilog="examples:\n  timbrecastd analyze take1.wav --jsonl hits.jsonl\n"
        "  timbrecastd analyze overheads.wav --mix\n"
        "  timbrecastd analyze kit.wav --sources snare,kick\n"
        "  timbrecastd analyze --oneshot ~/samples --jsonl tags.jsonl\n"
        "  timbrecastd analyze --oneshot ~/samples --csv tags.csv     (a spreadsheet's view)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    analyze.add_argument("files", nargs="+", type=Path, metavar="FILE", help="files or folders")
    analyze.add_argument("--jsonl", type=Path, help="write here instead of standard output")
    analyze.add_argument(
        "--csv",
        type=Path,
        help="write a CSV table here (a header, then one row per hit, the descriptors as "
        "columns); with --jsonl as well, both are written",
    )
    analyze.add_argument(
        "--oneshot",
        action="store_true",
        help="each file is one hit, no onset detection (tagging a sample library)",
    )
    sources = analyze.add_mutually_exclusive_group()
    sources.add_argument("--mix", action="store_true", help="average the channels to one source")
    sources.add_argument(
        "--sources", metavar="NAMES", help="comma-separated names, one per channel"
    )
    add_model_flags(analyze)
    add_detector_flags(analyze)
    analyze.set_defaults(func=cmd_analyze)
