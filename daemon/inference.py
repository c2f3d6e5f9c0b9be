"""The timbre model at run time: load, check its contract, predict in batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from timbrecast.daemon import runtime, selftest
from timbrecast.daemon.contract import DESCRIPTORS, ModelContract, ModelContractError, Scale
from timbrecast.daemon.quiet import quiet_stderr
from timbrecast.daemon.tflitemeta import read_contract


class Model:
    """A checked model and two interpreters: one for single hits, one for backlogs.

    A single hit is the common case and must not wait for a batch. A backlog (a
    file analysed as fast as possible) goes through ``batch`` clips per invoke;
    what is left of it, fewer than ``batch``, goes clip by clip, because a padded
    batch costs as much as a full one: here two hits padded to 8 took 2.3 ms
    against 0.6 one by one, and a full batch of 8 about what 8 single calls do
    (``bench/inference.py --batch``).

    Before either is built, the model runs its self-test (``selftest``): ``verdict``
    says how it went (None for a model exported without one).
    """

    def __init__(
        self,
        path: str | Path,
        runtime_name: str | None = None,
        threads: int = 1,
        batch: int = 8,
    ) -> None:
        path = Path(path)
        if not path.is_file():
            raise ModelContractError(f"model {path}: no such file")
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise ModelContractError(f"model {path}: cannot read it ({exc.strerror})") from exc
        self.path = path
        self.contract: ModelContract = read_contract(content)
        self.runtime = runtime.load(runtime_name)
        self.batch = max(1, batch)
        try:
            with quiet_stderr():
                self.verdict, proven = self._prove(content, threads)
                xnnpack = self.verdict is None or self.verdict.xnnpack
                self._single, self._batched = proven.get(xnnpack) or (
                    self._interpreter(content, threads, 1, xnnpack),
                    self._interpreter(content, threads, self.batch, xnnpack),
                )
        except ModelContractError:
            raise
        except (ValueError, RuntimeError) as exc:
            raise ModelContractError(
                f"model {path}: {self.runtime.name} cannot load it ({exc})"
            ) from exc
        self._scale = Scale.of(self.contract.normalisation)
        self._order = [self.contract.descriptors.index(d) for d in DESCRIPTORS]

    @property
    def model_id(self) -> str:
        return self.contract.model_id

    def _prove(
        self, content: bytes, threads: int
    ) -> tuple[selftest.Verdict | None, dict[bool, tuple[Any, Any]]]:
        """The self-test through both interpreters, single and batched (XNNPACK may
        take other paths for a batch); with the verdict, the interpreters it built,
        by XNNPACK flag, so that the ones that passed are not built again."""
        test = self.contract.self_test
        built: dict[bool, tuple[Any, Any]] = {}
        if test is None:
            return None, built
        length = self.contract.input_length
        probes = selftest.clips(length)

        def measure(xnnpack: bool) -> np.ndarray:
            single = self._interpreter(content, threads, 1, xnnpack)
            batched = self._interpreter(content, threads, self.batch, xnnpack)
            built[xnnpack] = single, batched
            count = min(len(probes), self.batch)
            padded = np.zeros((self.batch, length), dtype=np.float32)
            padded[:count] = probes[:count]
            together = runtime.invoke(batched, padded).reshape(self.batch, -1)[:count]
            return np.concatenate([selftest.outputs(single, probes), together])

        verdict = selftest.verify(test, measure, f"model {self.path}", self.runtime.name)
        return verdict, built

    def _interpreter(self, content: bytes, threads: int, batch: int, xnnpack: bool):
        interpreter = self.runtime.interpreter(content, threads, xnnpack)
        detail = interpreter.get_input_details()[0]
        shape = list(detail["shape"])
        if len(shape) not in (2, 3) or shape[1] != self.contract.input_length:
            raise ModelContractError(
                f"model {self.path}: input shape {shape} does not take "
                f"{self.contract.input_length} samples"
            )
        if batch != shape[0]:
            shape[0] = batch
            interpreter.resize_tensor_input(detail["index"], shape)
        interpreter.allocate_tensors()
        outputs = interpreter.get_output_details()
        size = int(np.prod(outputs[0]["shape"][1:])) if outputs else 0
        if len(outputs) != 1 or size != len(self.contract.descriptors):
            raise ModelContractError(
                f"model {self.path}: gives {size} values per hit, its contract names "
                f"{len(self.contract.descriptors)} descriptors"
            )
        return interpreter

    def predict(self, clips: np.ndarray) -> np.ndarray:
        """Descriptors (0-100, in ``DESCRIPTORS`` order) for (n, input_length) clips."""
        clips = np.asarray(clips, dtype=np.float32).reshape(-1, self.contract.input_length)
        full = len(clips) - len(clips) % self.batch
        out = [
            self._run(self._batched, clips[i : i + self.batch]) for i in range(0, full, self.batch)
        ]
        out += [self._run(self._single, clips[i : i + 1]) for i in range(full, len(clips))]
        return np.concatenate(out)

    def _run(self, interpreter, clips: np.ndarray) -> np.ndarray:
        raw = runtime.invoke(interpreter, clips)
        return self._scale.points(raw.reshape(len(clips), -1)[:, self._order])
