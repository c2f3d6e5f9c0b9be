"""The runtime layer picks what is installed and says what is missing."""

from __future__ import annotations

import pytest

from timbrecast.daemon import runtime


def test_ai_edge_litert_is_preferred_when_installed() -> None:
    assert runtime.installed()[0] == "ai-edge-litert"
    chosen = runtime.load()
    assert chosen.name == "ai-edge-litert"
    assert chosen.interpreter_class.__name__ == "Interpreter"


def test_unknown_and_absent_runtimes_are_named() -> None:
    with pytest.raises(runtime.RuntimeUnavailable, match="unknown runtime 'onnx'"):
        runtime.load("onnx")
    if "tflite-runtime" not in runtime.installed():
        with pytest.raises(runtime.RuntimeUnavailable, match="tflite-runtime is not installed"):
            runtime.load("tflite-runtime")
