"""Time per hit: a network's exports (int8, dynamic-range, float) and the teacher, on
the same clips.

All run in this one process on the same clips (the 40 teacher-parity one-shots by
default), one clip at a time as the daemon does for a single hit: the models
through the daemon's own runtime layer with one thread, the teacher through
``timbrecast.trainer.teacher``. Prints median and p99 per clip and the ratios
against the first export given (int8, else dynamic-range), the reference run.

    python bench/inference.py --int8 model-int8.tflite --float model-float.tflite
    python bench/inference.py --int8 int8.tflite --dynamic daemon/models/seven-filters-int8.tflite \
        --float float.tflite --no-teacher

``--batch`` asks another question: what a backlog of k hits costs (a roll, hits
on several channels at once, a folder tagged), for the shipped model and the
early ones (25 and 10 ms). Side by side, per k: ``Model.predict`` on k clips (the reference),
k single calls, and one call of the batched interpreter padded to its size.

    python bench/inference.py --batch
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from timbrecast.daemon import audiofile, bundled, runtime
from timbrecast.daemon.inference import Model
from timbrecast.daemon.preprocess import prepare

DEFAULT_CLIPS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "teacher-parity"


def timings(run, clips: np.ndarray, repeats: int) -> np.ndarray:
    """Seconds per call of ``run(clip)``, after one warm-up call."""
    run(clips[0])
    seconds = []
    for _ in range(repeats):
        for clip in clips:
            start = time.perf_counter()
            run(clip)
            seconds.append(time.perf_counter() - start)
    return np.array(seconds)


def backlogs(clips: np.ndarray, repeats: int) -> None:
    """Median ms for k clips: predict, k single calls, one padded batch."""
    print("| model | clips | predict ms (reference) | one by one | x | padded batch | x |")
    print("|---|---|---|---|---|---|---|")
    models = (
        ("shipped", bundled.model()),
        ("early 25 ms", bundled.early_model()),
        ("early 10 ms", bundled.model(bundled.EARLY_10MS_MODEL)),
    )
    for name, path in models:
        model = Model(path, threads=1)
        for k in (1, 2, 4, 8):
            inputs = clips[:k, : model.contract.input_length]
            padded = np.zeros((model.batch, inputs.shape[1]), dtype=np.float32)
            padded[:k] = inputs
            runs = [
                lambda _, m=model, x=inputs: m.predict(x),
                lambda _, m=model, x=inputs: [m.predict(clip) for clip in x],
                lambda _, m=model, x=padded: runtime.invoke(m._batched, x),
            ]
            medians = [1e3 * float(np.median(timings(run, clips[:1], repeats))) for run in runs]
            ratios = [f"{m:.3f} | {m / medians[0]:.1f}" for m in medians[1:]]
            print(f"| {name} | {k} | {medians[0]:.3f} | {' | '.join(ratios)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--int8", type=Path, help="the int8 export")
    parser.add_argument(
        "--dynamic", type=Path, help="the dynamic-range export (int8 weights, float activations)"
    )
    parser.add_argument("--float", type=Path, help="the float export")
    parser.add_argument("--batch", action="store_true", help="backlogs of 1-8 hits instead")
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS)
    parser.add_argument("--repeats", type=int, default=20, help="passes over the clips (models)")
    parser.add_argument("--no-teacher", action="store_true", help="skip the teacher")
    args = parser.parse_args()

    clips = []
    for path in sorted(args.clips.glob("*.wav")):
        audio = audiofile.read(path)
        clips.append(prepare(audio.frames, audio.sample_rate))
    batch = np.stack(clips)
    if args.batch:
        backlogs(batch, args.repeats * 10)
        return
    exports = [
        (name, path)
        for name, path in (("int8", args.int8), ("dynamic", args.dynamic), ("float", args.float))
        if path is not None
    ]
    if args.float is None or len(exports) < 2:
        parser.error("--float and --int8 or --dynamic are needed (or --batch)")
    rows = []
    for name, path in exports:
        model = Model(path, threads=1)
        rows.append(
            (
                f"{name} ({model.runtime.name}, 1 thread)",
                timings(lambda c, m=model: m.predict(c), batch, args.repeats),
            )
        )
    if not args.no_teacher:
        from timbrecast.trainer.teacher import label

        rows.append(("teacher (timbral_models 0.4.0)", timings(label, batch, 1)))
    reference = float(np.median(rows[0][1]))
    print(f"{len(batch)} clips from {args.clips}")
    print(f"{'':34} {'median ms':>10} {'p99 ms':>10} {'x ' + exports[0][0]:>9}")
    for name, seconds in rows:
        median = float(np.median(seconds))
        print(
            f"{name:34} {median * 1e3:10.3f} {np.percentile(seconds, 99) * 1e3:10.3f} "
            f"{median / reference:9.2f}"
        )


if __name__ == "__main__":
    main()
