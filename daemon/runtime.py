"""The TFLite interpreter, from whichever runtime is installed.

Order of preference: ai-edge-litert (current, wheels for x86_64 and aarch64),
tflite-runtime (older boards and Pythons where only it exists), then
TensorFlow's own interpreter (a training machine). Nothing is imported until an
interpreter is actually needed, and a missing runtime is reported then, by name.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any

import numpy as np

#: (runtime name, module that holds ``Interpreter``), best first.
RUNTIMES: tuple[tuple[str, str], ...] = (
    ("ai-edge-litert", "ai_edge_litert.interpreter"),
    ("tflite-runtime", "tflite_runtime.interpreter"),
    ("tensorflow", "tensorflow.lite.python.interpreter"),
)
#: The names a user may ask for (``--runtime``, ``runtime =`` in settings).
NAMES = tuple(name for name, _ in RUNTIMES)


class RuntimeUnavailable(ImportError):
    """No TFLite runtime is installed, or not the one asked for."""


@dataclass(frozen=True)
class Runtime:
    """A runtime that is installed: its name and the module that holds its
    ``Interpreter``."""

    name: str
    module: Any

    def interpreter(self, content: bytes, threads: int = 1, xnnpack: bool = True) -> Any:
        """An interpreter of ``content``; ``xnnpack=False`` runs the builtin kernels
        without the default delegate (XNNPACK), the fallback when a model's
        self-test fails with it."""
        if xnnpack:
            return self.module.Interpreter(model_content=content, num_threads=threads)
        return self.module.Interpreter(
            model_content=content,
            num_threads=threads,
            experimental_op_resolver_type=self.module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )


def installed() -> list[str]:
    """Names of the runtimes installed here, best first, without importing them."""
    return [name for name, module in RUNTIMES if _spec_exists(module)]


def _spec_exists(module: str) -> bool:
    """Whether ``module``'s top-level package is installed.

    Only the top level is looked up: ``find_spec`` of a dotted name imports the
    parents, and importing TensorFlow to ask whether it exists costs seconds.
    """
    return importlib.util.find_spec(module.partition(".")[0]) is not None


def load(preferred: str | None = None) -> Runtime:
    """The best installed runtime, or ``preferred`` if named."""
    candidates = [r for r in RUNTIMES if preferred in (None, r[0])]
    if not candidates:
        raise RuntimeUnavailable(f"unknown runtime {preferred!r} (known: {', '.join(NAMES)})")
    for name, module in candidates:
        if not _spec_exists(module):
            continue
        return Runtime(name=name, module=importlib.import_module(module))
    raise RuntimeUnavailable(
        "no TFLite runtime installed: pip install ai-edge-litert "
        "(or tflite-runtime where ai-edge-litert has no wheel)"
        if preferred is None
        else f"runtime {preferred} is not installed"
    )


def invoke(interpreter: Any, data: np.ndarray) -> np.ndarray:
    """One invoke of an allocated interpreter with one input and one output: float
    in and out, quantised and dequantised here when the model's boundary is integer."""
    source = interpreter.get_input_details()[0]
    target = interpreter.get_output_details()[0]
    data = np.asarray(data, dtype=np.float32).reshape(source["shape"])
    if source["dtype"] != np.float32:
        scale, zero = source["quantization"]
        info = np.iinfo(source["dtype"])
        data = np.clip(np.round(data / scale + zero), info.min, info.max)
    interpreter.set_tensor(source["index"], data.astype(source["dtype"]))
    interpreter.invoke()
    raw = interpreter.get_tensor(target["index"]).astype(np.float32)
    if target["dtype"] != np.float32:
        scale, zero = target["quantization"]
        raw = (raw - zero) * scale
    return raw
