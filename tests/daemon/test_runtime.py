"""The runtime layer picks what is installed and says what is missing."""

from __future__ import annotations

import numpy as np
import pytest

from timbrecast.daemon import bundled, runtime


def test_ai_edge_litert_is_preferred_when_installed() -> None:
    assert runtime.installed()[0] == "ai-edge-litert"
    chosen = runtime.load()
    assert chosen.name == "ai-edge-litert"
    assert chosen.module.Interpreter.__name__ == "Interpreter"


@pytest.mark.parametrize("name", ["ai-edge-litert", "tensorflow"])
def test_each_installed_runtime_makes_interpreters_with_and_without_xnnpack(name: str) -> None:
    # TensorFlow's interpreter lives in tensorflow.lite.python.interpreter: the
    # lazily loaded tensorflow.lite module has no Interpreter (this runtime never
    # loaded before the self-tests tried it).
    if name not in runtime.installed():
        pytest.skip(f"{name} is not installed here")
    chosen = runtime.load(name)
    content = bundled.model(bundled.ONSET_MODEL).read_bytes()
    outputs = []
    for xnnpack in (True, False):
        interpreter = chosen.interpreter(content, 1, xnnpack)
        interpreter.allocate_tensors()
        outputs.append(runtime.invoke(interpreter, np.zeros((17, 32), dtype=np.float32) - 6.0))
    np.testing.assert_allclose(outputs[0], outputs[1], atol=0.01)


def test_unknown_and_absent_runtimes_are_named() -> None:
    with pytest.raises(runtime.RuntimeUnavailable, match="unknown runtime 'onnx'"):
        runtime.load("onnx")
    if "tflite-runtime" not in runtime.installed():
        with pytest.raises(runtime.RuntimeUnavailable, match="tflite-runtime is not installed"):
            runtime.load("tflite-runtime")
