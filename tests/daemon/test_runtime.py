"""The runtime layer picks what is installed and says what is missing."""

from __future__ import annotations

import numpy as np
import pytest

from timbrecast.daemon import bundled, runtime, selftest


def test_ai_edge_litert_is_preferred_when_installed() -> None:
    assert runtime.installed()[0] == "ai-edge-litert"
    chosen = runtime.load()
    assert chosen.name == "ai-edge-litert"
    assert chosen.module.Interpreter.__name__ == "Interpreter"


@pytest.mark.parametrize("name", ["ai-edge-litert", "tensorflow"])
def test_each_installed_runtime_makes_interpreters_with_and_without_xnnpack(name: str) -> None:
    # TensorFlow's interpreter lives in tensorflow.lite.python.interpreter: the
    # lazily loaded tensorflow.lite module has no Interpreter (this runtime never
    # loaded before the self-tests tried it). With XNNPACK, delegate nodes replace
    # parts of the graph; without, there are none, and the outputs agree.
    if name not in runtime.installed():
        pytest.skip(f"{name} is not installed here")
    chosen = runtime.load(name)
    content = bundled.model().read_bytes()
    probes = selftest.clips(16_000)
    outputs = []
    for xnnpack in (True, False):
        interpreter = chosen.interpreter(content, 1, xnnpack)
        interpreter.allocate_tensors()
        delegated = [op for op in interpreter._get_ops_details() if op["op_name"] == "DELEGATE"]
        assert bool(delegated) == xnnpack
        outputs.append(selftest.outputs(interpreter, probes))
    np.testing.assert_allclose(outputs[0], outputs[1], atol=0.01)
