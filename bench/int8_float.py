"""Why the int8 timbre model is slower than the float one: the same network in each
export, on each of the runtime's kernel paths, one hit at a time.

Why: issue 19 found the int8 seven-filters 1.3-2x slower per hit than the float one
on x86, although int8 is meant to be the fast, small export. Speed does not depend
on the weights, so this builds the seven-filters network (seed 0, untrained) and
exports it as the trainer does: float, full-integer int8 with float input and output
(the early and mel models' kind), full-integer int8 with int8 input and output (no boundary
conversion), and dynamic-range (int8 weights, float activations). Each runs
through the daemon's runtime layer, one thread, on three kernel paths: the default
(XNNPACK delegate), the builtin kernels without it, and XNNPACK with
``experimental_default_delegate_latest_features``. The bundled default model (the
dynamic-range kind since 2026-12-01, which this script's figures chose) is timed
beside them. The variants take turns in ``--rounds`` rounds of ``--hits`` hits each,
so a noisy neighbour slows them alike; the median of the round medians counts,
with the ratio against the float model on the default path. Needs the train extra
(TensorFlow converts).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from timbrecast.daemon import bundled, runtime, selftest
from timbrecast.daemon.quiet import quiet_stderr


def exports() -> dict[str, bytes]:
    import tensorflow as tf

    from timbrecast.trainer.architectures import seven_filters
    from timbrecast.trainer.export import convert

    tf.keras.utils.set_random_seed(0)
    model = seven_filters()
    probes = selftest.clips(16_000)
    noise = np.random.default_rng(0).normal(0.0, 0.3, (40, 16_000)).astype(np.float32)
    calibration = np.concatenate([probes, noise])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [clip.reshape(1, 16_000, 1)] for clip in calibration
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return {
        "float": convert(model, "none"),
        "int8, float I/O (trainer export's default)": convert(model, "int8", calibration),
        "int8, int8 I/O": bytes(converter.convert()),
        "dynamic-range (int8 weights)": convert(model, "dynamic"),
        "bundled default model (int8 weights)": bundled.model().read_bytes(),
    }


PATHS: dict[str, Callable[[runtime.Runtime, bytes], Any]] = {
    "XNNPACK (default)": lambda rt, content: rt.interpreter(content, 1, xnnpack=True),
    "builtin kernels": lambda rt, content: rt.interpreter(content, 1, xnnpack=False),
    "XNNPACK, latest features": lambda rt, content: rt.module.Interpreter(
        model_content=content, num_threads=1, experimental_default_delegate_latest_features=True
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python bench/int8_float.py",
        description=__doc__.split("\n\n")[0],
        epilog="example: python bench/int8_float.py --rounds 7 --hits 60",
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--hits", type=int, default=60, help="hits per variant per round")
    args = parser.parse_args()
    chosen = runtime.load()
    clips = selftest.clips(16_000)
    interpreters = {}
    with quiet_stderr():
        for name, content in exports().items():
            for path, make in PATHS.items():
                interpreter = make(chosen, content)
                interpreter.allocate_tensors()
                for clip in clips:
                    runtime.invoke(interpreter, clip)
                interpreters[(name, path)] = interpreter
    medians: dict[tuple[str, str], list[float]] = {key: [] for key in interpreters}
    for _ in range(args.rounds):
        for key, interpreter in interpreters.items():
            times = []
            for i in range(args.hits):
                start = time.perf_counter()
                runtime.invoke(interpreter, clips[i % len(clips)])
                times.append(time.perf_counter() - start)
            medians[key].append(float(np.median(times)))
    reference = float(np.median(medians[("float", "XNNPACK (default)")]))
    print(f"{chosen.name}, 1 thread, {args.rounds} rounds x {args.hits} hits per variant\n")
    print("| export | kernels | median ms per hit | x float on XNNPACK |")
    print("|---|---|---|---|")
    for (name, path), values in medians.items():
        ms = float(np.median(values))
        print(f"| {name} | {path} | {1000 * ms:.3f} | {ms / reference:.2f} |")


if __name__ == "__main__":
    main()
