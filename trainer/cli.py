"""``trainer``: build the labelled corpus, train, evaluate and export the model."""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from timbrecast.daemon import audiofile, exitcodes
from timbrecast.daemon.audiofile import InputMissing
from timbrecast.daemon.contract import DESCRIPTORS, SAMPLE_RATE
from timbrecast.daemon.preprocess import PreprocessError, prepare
from timbrecast.trainer import labelfile, quiet
from timbrecast.trainer.labelcache import LabelCacheError

DESCRIPTION = """\
timbrecast trainer: labels drum one-shots with the AudioCommons timbral models
(the teacher), builds the corpus, trains the seven-descriptor CNN and exports it
for the daemon.
"""

EPILOG = """\
examples:
  trainer label ~/samples/kicks --out kicks.csv
  trainer label a.wav b.flac --out labels.csv --jobs 2

exit statuses: 0 ok, 65 some inputs failed (the rest are written),
66 an input path is missing, 69 the train extra is not installed.
"""


class Misused(ValueError):
    """Options that cannot go together; the message says what to do instead."""


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


def default_store() -> Path:
    from timbrecast.trainer.labelcache import default_path

    return default_path().parent / "corpus"


def cmd_dataset_build(args: argparse.Namespace) -> int:
    """Render every hit, verify it against the committed corpus, label what is new."""
    from collections import Counter

    from tqdm import tqdm

    from timbrecast.trainer import corpus
    from timbrecast.trainer.labelcache import LabelCache, default_path

    for folder in args.user:
        if not folder.is_dir():
            raise InputMissing(f"{folder}: no such directory")
    if args.freesound is not None and not args.freesound.is_dir():
        raise InputMissing(f"{args.freesound}: no such directory")
    user_labels = None
    if args.labels is not None:
        if not args.labels.is_file():
            raise InputMissing(f"{args.labels}: no such file")
        if not args.user:
            raise Misused("--labels labels the clips of --user folders: name one")
        user_labels = labelfile.read(args.labels)
    spec = corpus.CorpusSpec(
        args.synthetic, args.copies, args.seed, tuple(args.user), args.freesound
    )
    listing = corpus.list_hits(spec)
    for reason, count in sorted(listing.skipped.items()):
        print(f"left out by the sources: {count} ({reason})", file=sys.stderr)

    def bar(total: int, label: str) -> tqdm:
        return tqdm(total=total, unit="clip", desc=label, disable=args.quiet)

    cache = LabelCache(args.cache or default_path())
    entries, report = corpus.build(
        listing.hits, args.store, cache, args.jobs, bar, corpus.committed_entries(), user_labels
    )
    cache.close()
    counts = Counter(e.hit.source for e in entries if e.labels is not None)
    for source, count in sorted(counts.items()):
        print(f"{source:<26} {count:6d} clips", file=sys.stderr)
    with (args.store / "failures.txt").open("w") as handle:
        for name, reason in sorted(report.failed):
            handle.write(f"{name}: {reason}\n")
    print(
        f"{report.clips} clips: {report.verified} match the committed corpus, "
        f"{report.mismatched} differ and {report.new} are new; {report.labelled_now} labelled "
        f"now; {len(report.failed)} left out (reasons in {args.store / 'failures.txt'})",
        file=sys.stderr,
    )
    if args.labels is not None:
        print(
            f"{report.user_labelled} clips took their labels from {args.labels}; "
            f"{len(report.unmatched_labels)} of its rows name no clip of the --user folders",
            file=sys.stderr,
        )
        for path in report.unmatched_labels:
            print(f"  not in the corpus: {path}", file=sys.stderr)
    if args.commit:
        corpus.write_entries(entries, corpus.COMMITTED)
        print(f"wrote {corpus.COMMITTED}", file=sys.stderr)
    return exitcodes.OK


def cmd_groove(args: argparse.Namespace) -> int:
    """Render a synthetic groove and the list of its onsets (a CSV beside it)."""
    import numpy as np
    import soundfile

    from timbrecast.trainer.synth import groove

    audio, notes = groove(args.seed, bars=args.bars, bpm=args.bpm, sample_rate=args.rate)
    lead = round(args.lead_in * args.rate)
    audio = np.concatenate([np.zeros(lead, dtype=audio.dtype), audio])
    notes = [(t + lead / args.rate, kind) for t, kind in notes]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(args.out, audio, args.rate, subtype="PCM_16")
    onsets = args.out.with_suffix(".onsets.csv")
    with onsets.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["onset_s", "kind"])
        writer.writerows((f"{t:.6f}", kind) for t, kind in notes)
    print(
        f"wrote {args.out} ({audio.size / args.rate:.1f} s, {len(notes)} notes) and {onsets}",
        file=sys.stderr,
    )
    return exitcodes.OK


RUNS = Path("runs")


def cmd_dataset_verify(args: argparse.Namespace) -> int:
    """Render the committed corpus here and check every clip's content hash."""
    import tempfile

    from tqdm import tqdm

    from timbrecast.trainer import corpus

    committed = corpus.committed_entries()
    if not committed:
        raise InputMissing(f"{corpus.COMMITTED}: no committed corpus")

    def bar(total: int, label: str) -> tqdm:
        return tqdm(total=total, unit="clip", desc=label, disable=args.quiet)

    with tempfile.TemporaryDirectory() as scratch:
        result = corpus.verify(committed, Path(scratch), args.jobs, bar)
    for entry in result.mismatched + result.unrenderable:
        print(
            f"differs: {entry.hit.source} {entry.hit.kit} {entry.hit.instrument}", file=sys.stderr
        )
    print(
        f"{result.matched} of {result.matched + len(result.mismatched) + len(result.unrenderable)}"
        f" committed clips render to the committed hash; {len(result.mismatched)} differ, "
        f"{len(result.unrenderable)} could not be rendered",
        file=sys.stderr,
    )
    return exitcodes.DATA if result.mismatched or result.unrenderable else exitcodes.OK


def cmd_dataset_info(args: argparse.Namespace) -> int:
    """Counts per source, split, class and kit; label statistics and a PNG of them."""
    from timbrecast.trainer import corpus, info
    from timbrecast.trainer.split import Split

    manifest = args.store / "manifest.jsonl"
    if not manifest.is_file():
        raise InputMissing(f"{manifest}: no built corpus (run `trainer dataset build`)")
    entries, _ = corpus.load(args.store)
    print(info.counts(entries, Split.load()))
    print(info.label_table(entries))
    plot = args.plot or args.store / "label-distributions.png"
    info.plot_distributions(entries, plot)
    print(f"\nwrote {plot}", file=sys.stderr)
    return exitcodes.OK


def cmd_train(args: argparse.Namespace) -> int:
    """Train one architecture; the run directory gets the model, log, plot, summary."""
    from timbrecast.trainer.dataset import load_split
    from timbrecast.trainer.train import TrainSettings, train

    parts = load_split(args.store)
    without = tuple(args.without.split(",")) if args.without else ()
    if without:
        parts["train"] = parts["train"].without(without)
    settings = TrainSettings(
        args.arch,
        args.epochs,
        args.batch_size,
        args.learning_rate,
        args.patience,
        args.seed,
        args.early_ms,
    )
    suffix = "".join(f"-no-{k}" for k in without)
    name = f"early-{args.early_ms:g}ms" if args.early_ms else args.arch
    run_dir = args.out or RUNS / f"{name}-seed{args.seed}{suffix}"
    print(
        f"training {args.arch} on {len(parts['train'])} clips, validating on "
        f"{len(parts['validation'])}; run directory {run_dir}",
        file=sys.stderr,
    )
    with quiet.tensorflow_output(args.verbose):
        result = train(parts["train"], parts["validation"], settings, run_dir)
    latest = RUNS / "latest"
    if run_dir.parent == RUNS and not without and not args.early_ms:
        latest.unlink(missing_ok=True)
        latest.symlink_to(run_dir.name)
    print(
        f"best validation MAE {result.best_val_mae:.4f} at epoch {result.best_epoch} of "
        f"{result.epochs_run} ({result.seconds / 60:.1f} min, {result.parameters:,} "
        f"parameters); model {run_dir / 'model.keras'}",
        file=sys.stderr,
    )
    return exitcodes.OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Per-descriptor figures on the held-out kits, with plots and a Markdown report."""
    from timbrecast.trainer.dataset import load_split
    from timbrecast.trainer.evaluate import (
        curve_plot,
        curve_table,
        early_curve,
        metrics,
        predict,
        scatter,
        table,
    )

    if not args.model.exists():
        raise InputMissing(f"{args.model}: no such model")
    parts = load_split(args.store)
    out = args.out or args.model.parent / f"evaluation-{args.model.stem}"
    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name, part in (
        ("test kits, real hits", parts["test"].real()),
        ("test kits, all clips", parts["test"]),
        ("validation kits, all clips", parts["validation"]),
    ):
        with quiet.tensorflow_output(args.verbose):
            predicted = predict(args.model, part.clips)
        rows[name] = metrics(predicted, part, parts["train"].targets)
        if name == "test kits, real hits":
            scatter(
                predicted,
                part,
                out / "predicted-vs-teacher.png",
                f"{args.model.name}: held-out kits, real hits",
            )
    report = (
        f"# Evaluation of `{args.model}`\n\n"
        "MAE on the seed's normalised scale (Freesound min-max ranges), in 0-100 points, "
        "Pearson r, and the MAE of always predicting the training median.\n\n"
        + table(rows)
        + "\n\n![predicted against teacher](predicted-vs-teacher.png)\n"
    )
    if args.curve or args.early:
        for path in args.early:
            if not path.exists():
                raise InputMissing(f"{path}: no such model")
        with quiet.tensorflow_output(args.verbose):
            curves = early_curve(args.model, args.early, parts["test"], parts["train"].targets)
        curve_plot(curves, out / "mae-vs-ms.png")
        report += (
            "\n## MAE against the audio heard (test kits, all clips)\n\n"
            "The full model fed the first N ms after the attack, zero-padded to 1 s, and "
            "each early-estimate model at its own N.\n\n"
            + curve_table(curves)
            + "\n\n![MAE against N](mae-vs-ms.png)\n"
        )
    (out / "report.md").write_text(report)
    print(report)
    print(f"wrote {out / 'report.md'}", file=sys.stderr)
    return exitcodes.OK


def cmd_export(args: argparse.Namespace) -> int:
    """Keras -> .tflite with its contract; refuses a quantisation that costs accuracy."""
    from timbrecast.trainer.export import ExportError, export

    if not args.model.exists():
        raise InputMissing(f"{args.model}: no such model")
    try:
        with quiet.tensorflow_output(args.verbose, stdout=True):
            report = export(args.model, args.out, args.quantize, args.store, args.tolerance)
    except ExportError as exc:
        print(f"trainer: export refused: {exc}", file=sys.stderr)
        return exitcodes.DATA
    print(report, file=sys.stderr)
    return exitcodes.OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trainer",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's own log lines (held back unless something fails)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
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

    dataset = commands.add_parser("dataset", help="build and inspect the labelled corpus")
    dataset_commands = dataset.add_subparsers(
        dest="dataset_command", metavar="ACTION", required=True
    )
    build = dataset_commands.add_parser(
        "build",
        help="render, verify and label the corpus",
        description=(
            "Render every one-shot of Debian's drum kits (hydrogen-drumkits, hydrogen-data, "
            "timgm6mb/csound/opl3 SoundFonts, freepats), their augmented copies, synthetic "
            "hits and your own folders; prepare each as the model sees it; take the labels of "
            "clips whose content matches the committed corpus and have the teacher label the "
            "rest. The clips land in --store as one int16 array with a manifest."
        ),
        epilog="example: trainer dataset build --jobs 2\n"
        "         trainer dataset build --user ~/my-kits --store /data/corpus",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("--synthetic", type=int, default=5000, help="synthetic hits (5000)")
    build.add_argument("--copies", type=int, default=10, help="augmented copies per real hit (10)")
    build.add_argument("--seed", type=int, default=0, help="seed of synthesis and augmentation")
    build.add_argument(
        "--user",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of your one-shots (each subfolder a kit); repeatable",
    )
    build.add_argument(
        "--labels",
        type=Path,
        metavar="CSV",
        help="your own labels for clips of the --user folders: columns path and the seven "
        "descriptors (0-100), as `trainer label` writes them; clips it does not name are "
        "labelled by the teacher",
    )
    build.add_argument(
        "--freesound",
        type=Path,
        metavar="DIR",
        help="the Freesound One-Shot Percussive Sounds dataset, if you have it (the folder "
        "holding one_shot_percussive_sounds/ and analysis/); its own labels are used",
    )
    build.add_argument(
        "--store",
        type=Path,
        default=default_store(),
        help="where the clips go (default ~/.cache/timbrecast/corpus)",
    )
    build.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    build.add_argument("--cache", type=Path, help="label cache (default: ~/.cache/timbrecast)")
    build.add_argument(
        "--commit",
        action="store_true",
        help="write the labels to the repository's trainer/data/corpus.jsonl.gz",
    )
    build.add_argument("--quiet", action="store_true", help="no progress bars")
    build.set_defaults(func=cmd_dataset_build)
    check = dataset_commands.add_parser(
        "verify",
        help="render the committed corpus here and compare content hashes (no labelling)",
        description="Render every clip of the committed corpus (trainer/data/corpus.jsonl.gz, "
        "installed with the package) from its recipe and compare each model input's content "
        "hash with the committed one: a clip that differs here (another package version, "
        "another resampler) would be relabelled by `dataset build`. Exit 65 if any differs.",
        epilog="example: trainer dataset verify --jobs 2",
    )
    check.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(func=cmd_dataset_verify)
    show = dataset_commands.add_parser(
        "info",
        help="what the built corpus holds, and its label distributions",
        epilog="example: trainer dataset info --plot labels.png",
    )
    show.add_argument("--store", type=Path, default=default_store(), help="built corpus")
    show.add_argument("--plot", type=Path, help="PNG to write (default: in the store)")
    show.set_defaults(func=cmd_dataset_info)

    groove = commands.add_parser(
        "groove",
        help="render a synthetic drum groove with its onset times",
        description="A few bars from one random synthetic kit, humanised, with ghost notes "
        "and flams; the onset times go to a CSV beside the audio. Used for the bundled demo "
        "recording and as a test signal.",
        epilog="example: trainer groove --seed 7 --out groove.flac",
    )
    groove.add_argument("--out", type=Path, required=True, help="audio file to write")
    groove.add_argument("--seed", type=int, default=0)
    groove.add_argument("--bars", type=int, default=4)
    groove.add_argument("--bpm", type=float, default=100.0)
    groove.add_argument("--rate", type=int, default=44100)
    groove.add_argument(
        "--lead-in", type=float, default=0.0, help="seconds of silence before the first bar"
    )
    groove.set_defaults(func=cmd_groove)

    from timbrecast.trainer.architectures import ARCHITECTURES, DEFAULT

    train = commands.add_parser(
        "train",
        help="train an architecture on the built corpus",
        description="Deterministic for a seed; early stopping on validation MAE; writes "
        "model.keras (best epoch), history.csv, loss.png and summary.json to the run directory.",
        epilog="examples:\n  trainer train\n  trainer train --arch seven-filters-avg --seed 1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--arch", choices=list(ARCHITECTURES), default=DEFAULT)
    train.add_argument("--epochs", type=int, default=60, help="at most (default 60)")
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--patience", type=int, default=8, help="early-stopping patience")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--early-ms",
        type=float,
        help="train an early-estimate model on each hit's first N ms (e.g. 25); "
        "the labels stay those of the whole hit",
    )
    train.add_argument(
        "--without",
        choices=["augmented", "synthetic", "augmented,synthetic"],
        help="leave parts out of the training set, to measure what each adds "
        "(validation is unchanged; runs/latest is not moved)",
    )
    train.add_argument("--store", type=Path, default=default_store(), help="built corpus")
    train.add_argument("--out", type=Path, help="run directory (default runs/ARCH-seedN)")
    train.set_defaults(func=cmd_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="figures of a model (.keras or .tflite) on the held-out kits",
        epilog="examples:\n  trainer evaluate runs/latest/model.keras\n"
        "  trainer evaluate daemon/models/seven-filters-int8.tflite --early "
        "daemon/models/early-25ms-int8.tflite",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("model", type=Path, metavar="MODEL")
    evaluate.add_argument(
        "--curve",
        action="store_true",
        help="also MAE against the ms heard after the attack (10 to 1000), the model fed "
        "truncated zero-padded clips",
    )
    evaluate.add_argument(
        "--early",
        type=Path,
        nargs="*",
        default=[],
        metavar="EARLY",
        help="early-estimate models to add to that curve (implies --curve)",
    )
    evaluate.add_argument("--store", type=Path, default=default_store(), help="built corpus")
    evaluate.add_argument("--out", type=Path, help="report directory")
    evaluate.set_defaults(func=cmd_evaluate)

    export = commands.add_parser(
        "export",
        help="export a trained model for the daemon",
        description="Convert to TFLite (full-integer int8 by default, calibrated on training "
        "clips), embed the contract, and check the quantised model against the float one on "
        "the validation kits: export fails if it is worse by more than --tolerance.",
        epilog="example: trainer export --tflite --out model.tflite",
    )
    export.add_argument(
        "--tflite",
        action="store_true",
        required=True,
        help="the only format (kept for the documented command line)",
    )
    export.add_argument(
        "model",
        type=Path,
        nargs="?",
        default=RUNS / "latest" / "model.keras",
        metavar="MODEL",
        help="default runs/latest/model.keras",
    )
    export.add_argument(
        "--quantize", choices=["int8", "float16", "dynamic", "none"], default="int8"
    )
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--store", type=Path, default=default_store(), help="built corpus")
    export.add_argument(
        "--tolerance",
        type=float,
        default=0.005,
        help="allowed validation MAE loss against float (default 0.005)",
    )
    export.set_defaults(func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return exitcodes.OK
    failures: list[tuple[tuple[type[Exception], ...], int]] = [
        ((InputMissing,), exitcodes.NO_INPUT),
        ((labelfile.LabelFileError,), exitcodes.DATA),
        ((Misused,), exitcodes.CONFIG),
        ((exitcodes.OutputError, LabelCacheError), exitcodes.CANT_CREATE),
        ((ImportError,), exitcodes.UNAVAILABLE),
    ]
    try:
        return args.func(args)
    except BrokenPipeError:
        return exitcodes.stdout_closed()
    except tuple(kind for kinds, _ in failures for kind in kinds) as exc:
        print(f"trainer: {exc}", file=sys.stderr)
        return next(code for kinds, code in failures if isinstance(exc, kinds))


if __name__ == "__main__":
    sys.exit(main())
