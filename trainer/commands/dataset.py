"""``trainer dataset build | verify | info``: the labelled corpus."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from timbrecast.daemon import exitcodes
from timbrecast.daemon.audiofile import InputMissing
from timbrecast.trainer import labelfile
from timbrecast.trainer.commands.common import (
    SCHEDULER_HELP,
    Misused,
    add_drum_machines,
    add_jobs,
    default_store,
    drum_machines,
)


def cmd_dataset_build(args: argparse.Namespace) -> int:
    """Render every hit, verify it against the committed corpus, label what is new."""
    from collections import Counter

    from tqdm import tqdm

    from timbrecast.trainer import corpus, machines
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
    collection = drum_machines(args)
    machines.use(collection)
    committed = corpus.committed_entries()
    dropped = sum(machines.needs(e.hit) for e in committed)
    if args.commit and dropped and not machines.available():
        raise Misused(
            f"--commit without the drum-machine collection (not at {collection}) would "
            f"drop its {dropped} committed clips: name it with --drum-machines DIR"
        )
    spec = corpus.CorpusSpec(
        args.synthetic,
        args.copies,
        args.seed,
        tuple(args.user),
        args.freesound,
        collection,
        args.machine_copies,
    )
    listing = corpus.list_hits(spec)
    for reason, count in sorted(listing.skipped.items()):
        print(f"left out by the sources: {count} ({reason})", file=sys.stderr)

    def bar(total: int, label: str) -> tqdm:
        return tqdm(total=total, unit="clip", desc=label, disable=args.quiet)

    cache = LabelCache(args.cache or default_path())
    entries, report = corpus.build(
        listing.hits,
        args.store,
        cache,
        args.jobs,
        bar,
        committed,
        user_labels,
        args.scheduler,
        None if args.stop_after is None else 60.0 * args.stop_after,
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
    if report.stale:
        print(
            f"{report.stale} of the matching clips carried labels of another view than the "
            "teacher's (a corpus labelled before trainer/heard.py) and were labelled again",
            file=sys.stderr,
        )
    if report.pending:
        print(
            f"{report.pending} clips left unlabelled at --stop-after {args.stop_after:g}: "
            "run the build again to label them",
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


def cmd_dataset_verify(args: argparse.Namespace) -> int:
    """Render the committed corpus here and check every clip's content hash."""
    import tempfile

    from tqdm import tqdm

    from timbrecast.trainer import corpus, machines

    collection = drum_machines(args)
    machines.use(collection)
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
    pending = sum(e.pending for e in committed)
    if pending:
        print(
            f"{pending} committed clips await labels (a build stopped by --stop-after): "
            "`trainer dataset build --commit` labels them",
            file=sys.stderr,
        )
    if result.absent:
        print(
            f"{len(result.absent)} committed clips not checked: no drum-machine collection at "
            f"{collection} (--drum-machines)",
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


def add_parser(commands: argparse._SubParsersAction) -> None:
    dataset = commands.add_parser("dataset", help="build and inspect the labelled corpus")
    dataset_commands = dataset.add_subparsers(
        dest="dataset_command", metavar="ACTION", required=True
    )
    build = dataset_commands.add_parser(
        "build",
        help="render, verify and label the corpus",
        description=textwrap.fill(
            "Render every one-shot of Debian's drum kits (hydrogen-drumkits, hydrogen-data, "
            "timgm6mb/csound/opl3 SoundFonts, freepats), of its drum samples (lmms-common, "
            "sonic-pi-samples, stk) and of the drum-machine collection "
            "(when it is there), their augmented copies, synthetic hits and your own folders; "
            "prepare each as the model sees it; take the labels of clips whose content "
            "matches the committed corpus and have the teacher label the rest, each as "
            "a file of that hit would sound (see `trainer label --help`), held-out kits "
            "first. The clips land in --store as one int16 array with a manifest."
        ),
        epilog="examples:\n  trainer dataset build --jobs 2\n"
        "  trainer dataset build --user ~/my-kits --store /data/corpus\n"
        "  trainer dataset build --user ~/library --scheduler tcp://10.0.0.5:8786\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("--synthetic", type=int, default=5500, help="synthetic hits (5500)")
    build.add_argument(
        "--copies", type=int, default=10, help="augmented copies per Debian or --user hit (10)"
    )
    build.add_argument(
        "--machine-copies",
        type=int,
        default=8,
        help="augmented copies per drum-machine hit (8: the collection has 2,539)",
    )
    build.add_argument("--seed", type=int, default=0, help="seed of synthesis and augmentation")
    add_drum_machines(build)
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
    add_jobs(build, "render and label")
    build.add_argument("--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP)
    build.add_argument("--cache", type=Path, help="label cache (default: ~/.cache/timbrecast)")
    build.add_argument(
        "--stop-after",
        type=float,
        metavar="MINUTES",
        help="label for at most this long, then write what is done; the clips not reached "
        "stay unlabelled (counted, and committed as such with --commit) and the next "
        "build labels them: a corpus relabelled over several sittings",
    )
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
    add_jobs(check, "render")
    add_drum_machines(check)
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
