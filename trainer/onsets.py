"""Training the learned onset activation on grooves whose onsets are exact.

Grooves (``trainer.grooves``) are played on the training kits only (``part``
of ``trainer.split``: the benchmark scores on the test kits) and put through
what a live kit meets: one of the listening conditions (noise, room, level, all
at once), a random EQ, sometimes a compressor, at 44.1 or 48 kHz. They are cut
into frames by the daemon's own ``onset.Framer`` and turned into features by
``activation.features``, so the network trains on what it will read.

A frame is a target when an attack lies in its last ``TARGET_HOPS`` hops: the
first frames that can see it, so the detector fires within 16 ms of the
attack, looking at nothing after it. Training keeps every target frame, the
frames around them (the hard negatives: a hit's own decay, a flam's stroke) and
a share of the rest. A target may count in the loss by how audible its note is
where it falls (``OnsetTraining.inaudible_db``, off by default): the grooves know
each note's own sound, so its local SNR is exact (``trainer.audibility``, taken
before the EQ and compression, which are near enough to linear per band).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from scipy.signal import lfilter

from timbrecast.daemon.activation import (
    BANDS,
    CONTEXT,
    FEATURES_VERSION,
    METADATA_NAME,
    ROWS,
    SILENCE,
    Activation,
    ActivationContract,
    features,
    filterbank,
    remembered,
)
from timbrecast.daemon.onset import FRAME_S, HOP_S, Framer
from timbrecast.daemon.progress import Progress
from timbrecast.daemon.tflitemeta import metadata
from timbrecast.trainer.audibility import Bands, local_snr
from timbrecast.trainer.grooves import (
    CONDITIONS,
    RATE,
    Heard,
    Mix,
    all_kits,
    conditioned,
    in_turn,
    mixed,
    pattern,
)

#: Four hops (16 ms): a soft note in a room gathers over more than one 12 ms frame,
#: and a fourth target frame found more of them (docs/benchmarks.md, "Onset
#: detection: targets one hop longer"; three gave F 0.918 and live 0.816 on the
#: validation kits, four 0.921 and 0.827).
TARGET_HOPS = 4
#: Frames this close to a target are kept as hard negatives.
NEAR_FRAMES = 8
#: Share of the other frames kept.
OTHERS = 0.15
#: How often each listening condition is drawn: rooms and live rooms, where
#: detectors lose most (docs/benchmarks.md), three times as often as the rest
#: (twice gave F 0.909 on the validation kits, three times 0.917).
CONDITION_WEIGHTS = {"clean": 1, "noise": 1, "room": 3, "quiet": 1, "live": 3}
#: The largest loss of agreement with the float model the export may cost (mean
#: absolute activation difference on the validation grooves).
TOLERANCE = 0.02
#: int8 weights, float activations (TFLite's dynamic-range export). Full-integer
#: int8 put the 120 dB of log band energies on 0.5 dB steps and cost live rooms
#: 0.003 F, and rooms 0.015 precision, on the validation kits; this export
#: differs from float 5 times less, is as small, and costs about the same per call
#: here (docs/benchmarks.md, "Onset detection: int8 weights, float activations").
QUANTIZATION = "dynamic"


@dataclass(frozen=True)
class OnsetTraining:
    """One training run: how many grooves of each part, epochs, and the seed."""

    grooves: int = 1600
    validation_grooves: int = 40
    epochs: int = 20
    batch_size: int = 512
    learning_rate: float = 2e-3
    seed: int = 0
    #: Networks trained, each on its own grooves (seeds ``seed``, ``seed + 1``, ...),
    #: and shipped as one model that averages their activations. On the validation
    #: kits one (full int8) gave F 0.921 and live 0.827; with int8 weights two gave
    #: 0.924 and 0.834, three 0.926 and 0.836 (docs/benchmarks.md, "Onset detection:
    #: int8 weights, float activations"), for three times the weights and training
    #: time of one; the detector costs about 10 % more than with two.
    members: int = 3
    #: Target frames of a note whose local SNR (dB, ``trainer.audibility``) is below
    #: ``inaudible_db`` are left out of the loss (no band-energy detector hears them);
    #: those up to ``weak_db`` count ``weak_weight`` times (the soft notes a drummer
    #: loses in a live room rise a few dB out of what surrounds them). Off by default:
    #: 0 dB and 2.5 times buy recall of soft notes at the cost of F on the test kits
    #: (docs/benchmarks.md, "Targets weighted by how audible their notes are").
    inaudible_db: float | None = None
    weak_db: float = 10.0
    weak_weight: float = 1.0

    @property
    def by_audibility(self) -> bool:
        """Whether targets are weighted by their notes' local SNR."""
        return self.inaudible_db is not None or self.weak_weight != 1.0

    def member(self, index: int) -> OnsetTraining:
        """The settings of the ``index``-th network: its own seed, so its own grooves."""
        return replace(self, seed=self.seed + index, members=1)


@dataclass
class Windows:
    """Network inputs (n, ROWS, BANDS), their targets (n,), and each target's local
    SNR in dB (the most audible of the notes it targets; +inf for other frames)."""

    inputs: np.ndarray
    targets: np.ndarray
    snr_db: np.ndarray

    def weights(self, settings: OnsetTraining) -> np.ndarray:
        """Each window's weight in the loss (``OnsetTraining.inaudible_db``)."""
        out = np.ones(len(self.targets), dtype=np.float32)
        out[self.snr_db < settings.weak_db] = settings.weak_weight
        if settings.inaudible_db is not None:
            out[self.snr_db < settings.inaudible_db] = 0.0
        return out


def eq(audio: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A random tilt: first-order low and high shelves, each -12..+12 dB."""
    out = audio
    for kind in ("low", "high"):
        gain = 10 ** (rng.uniform(-12, 12) / 20)
        corner = rng.uniform(100, 600) if kind == "low" else rng.uniform(2000, 8000)
        pole = np.exp(-2 * np.pi * corner / rate)
        smooth = lfilter([1 - pole], [1, -pole], out)
        out = gain * smooth + (out - smooth) if kind == "low" else smooth + gain * (out - smooth)
    return out


def compress(audio: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A feed-forward compressor (ratio 2-8, threshold 6-30 dB below peak, attack
    1-10 ms, release 50-300 ms), made up to the same peak."""
    ratio, below = rng.uniform(2, 8), rng.uniform(6, 30)
    attack = np.exp(-1 / (rng.uniform(1e-3, 1e-2) * rate))
    release = np.exp(-1 / (rng.uniform(0.05, 0.3) * rate))
    level = np.abs(audio)
    envelope = np.empty_like(level)
    state = 0.0
    for i, x in enumerate(level):
        coeff = attack if x > state else release
        state = coeff * state + (1 - coeff) * x
        envelope[i] = state
    threshold = np.abs(audio).max() * 10 ** (-below / 20)
    over = np.maximum(envelope / threshold, 1.0)
    out = audio * over ** (1 / ratio - 1)
    return out * np.abs(audio).max() / max(np.abs(out).max(), 1e-12)


def heard(clean: np.ndarray, rng: np.random.Generator) -> Heard:
    """A listening condition, drawn by ``CONDITION_WEIGHTS``."""
    weights = np.array([CONDITION_WEIGHTS[name] for name in CONDITIONS], dtype=float)
    return conditioned(str(rng.choice(CONDITIONS, p=weights / weights.sum())), clean, rng)


def snrs(groove: Mix, condition: Heard, bands: Bands) -> list[float]:
    """Each note's local SNR in ``condition`` (+inf where its frames run off the
    groove: those count as heard)."""
    out = []
    for part, onset in zip(groove.parts, groove.truth, strict=True):
        snr = local_snr(condition, part, round(onset * RATE), bands)
        out.append(np.inf if snr is None else snr)
    return out


def live(audio: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A conditioned groove as a live input might give it: EQ, maybe compression, at
    44.1 or 48 kHz."""
    audio = eq(audio, RATE, rng)
    if rng.random() < 0.3:
        audio = compress(audio, RATE, rng)
    rate = int(rng.choice([RATE, 48_000]))
    if rate != RATE:
        audio = soxr.resample(audio, RATE, rate)
    return audio.astype(np.float32), rate


def frames_of(
    audio: np.ndarray, rate: int, onsets_s: list[float], snr_db: list[float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames, BANDS) features as the daemon computes them, each frame's target, and
    each target's local SNR (of the most audible note it targets, from ``snr_db``,
    one per onset; +inf for other frames and where ``snr_db`` is not given)."""
    framer = Framer(rate)
    frames = framer.push(audio)
    values = features(frames.magnitudes, filterbank(rate, framer.frame))
    targets = np.zeros(len(values), dtype=np.float32)
    snr = np.full(len(values), -np.inf, dtype=np.float32)
    for onset, db in zip(onsets_s, snr_db or [np.inf] * len(onsets_s), strict=True):
        after = frames.ends - round(onset * rate)
        near = (after > 0) & (after <= TARGET_HOPS * framer.hop)
        targets[near] = 1.0
        snr[near] = np.maximum(snr[near], db)
    snr[targets == 0] = np.inf
    return values, targets, snr


def windows(
    values: np.ndarray,
    targets: np.ndarray,
    snr_db: np.ndarray,
    rng: np.random.Generator | None,
) -> Windows:
    """Each frame with the CONTEXT - 1 before it and the memory before it (the stream
    starts in silence, as the daemon's window does); with ``rng``, only the frames
    training keeps."""
    silence = np.full((CONTEXT - 1, BANDS), SILENCE, dtype=np.float32)
    padded = np.concatenate([silence, values])
    view = np.lib.stride_tricks.sliding_window_view(padded, CONTEXT, axis=0).transpose(0, 2, 1)
    memory, _ = remembered(values, np.full(BANDS, SILENCE, dtype=np.float32))
    keep = np.arange(len(values))
    if rng is not None:
        near = np.convolve(targets, np.ones(2 * NEAR_FRAMES + 1), mode="same") > 0
        keep = keep[near | (rng.random(len(values)) < OTHERS)]
    inputs = np.concatenate([view[keep], memory[keep, None]], axis=1)
    return Windows(inputs, targets[keep], snr_db[keep])


def corpus(
    count: int, part: str, seed: int, drum_machines: Path, sample: bool, audibility: bool = False
) -> Windows:
    """Windows of ``count`` grooves on the kits of ``part``, families and kits in turn;
    with ``audibility``, each target's local SNR (else +inf: every note counts once)."""
    kits, cache, bands = all_kits(drum_machines, part), {}, Bands()
    inputs, targets, snr = [], [], []
    progress = Progress(count, f"{part} grooves")
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        kit = in_turn(kits, index)[2].make(rng, cache)
        groove = mixed(pattern(rng, rng.uniform(60, 200)), kit)
        condition = heard(groove.audio, rng)
        audio, rate = live(condition.audio, rng)
        snr_db = snrs(groove, condition, bands) if audibility else None
        framed = frames_of(audio, rate, groove.truth, snr_db)
        part_windows = windows(*framed, rng if sample else None)
        inputs.append(part_windows.inputs.astype(np.float16))  # half the memory
        targets.append(part_windows.targets)
        snr.append(part_windows.snr_db)
        progress.update()
    progress.close()
    return Windows(np.concatenate(inputs), np.concatenate(targets), np.concatenate(snr))


def network():
    """A causal activation: two convolutions over the frames (bands as channels), and
    how far the newest frame stands above the memory, into a small dense layer and
    one sigmoid. About 27k weights (``averaged`` ships ``OnsetTraining.members`` of them)."""
    import tensorflow as tf

    layers = tf.keras.layers
    inputs = tf.keras.Input((ROWS, BANDS))
    x = layers.Rescaling(1 / 1.5, offset=2.0)(inputs)
    frames = layers.Cropping1D((0, 1))(x)
    newest = layers.Flatten()(layers.Cropping1D((CONTEXT - 1, 1))(x))
    memory = layers.Flatten()(layers.Cropping1D((CONTEXT, 0))(x))
    above = layers.Subtract()([newest, memory])
    x = layers.Conv1D(32, 3, activation="relu")(frames)
    x = layers.Conv1D(32, 3, activation="relu")(x)
    x = layers.Concatenate()([layers.Flatten()(x), above])
    x = layers.Dropout(0.2)(x)
    x = layers.Dense(48, activation="relu")(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return tf.keras.Model(inputs, outputs, name="onsets")


def render_sets(settings: OnsetTraining, drum_machines: Path) -> tuple[Windows, Windows]:
    """The training windows (sampled) and the validation grooves' (every frame)."""
    weighted = settings.by_audibility
    train_set = corpus(settings.grooves, "train", settings.seed, drum_machines, True, weighted)
    validation = corpus(
        settings.validation_grooves, "validation", settings.seed + 1, drum_machines, False, weighted
    )
    return train_set, validation


def _batches(windows: Windows, settings: OnsetTraining):
    """The training windows in shuffled batches, each cast to float32 as it is drawn.
    Handed over whole, they were copied to float32 and again by Keras: 2,600
    grooves (3.2 million windows, 3.4 GB as stored) ran a 24 GB machine out of
    memory."""
    import tensorflow as tf

    weights = windows.weights(settings)

    class Batches(tf.keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=2)
            self.rng = np.random.default_rng(settings.seed)
            self.order = self.rng.permutation(len(windows.targets))

        def __len__(self) -> int:
            return -(-len(self.order) // settings.batch_size)

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            size = settings.batch_size
            chosen = np.sort(self.order[index * size : (index + 1) * size])
            inputs = windows.inputs[chosen].astype(np.float32)
            return inputs, windows.targets[chosen], weights[chosen]

        def on_epoch_end(self) -> None:
            self.rng.shuffle(self.order)

    return Batches()


def fit(settings: OnsetTraining, train_set: Windows, validation: Windows, checkpoint: Path):
    """One network trained on ``train_set``, the epoch with the lowest validation loss
    kept (saved at ``checkpoint``, a .keras file); it and how it scored."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(settings.seed)
    model = network()
    model.compile(
        optimizer=tf.keras.optimizers.Adam(settings.learning_rate),
        loss="binary_crossentropy",
    )
    best = tf.keras.callbacks.ModelCheckpoint(
        str(checkpoint), save_best_only=True, monitor="val_loss"
    )
    history = model.fit(
        _batches(train_set, settings),
        validation_data=(
            validation.inputs.astype(np.float32),
            validation.targets,
            validation.weights(settings),
        ),
        epochs=settings.epochs,
        callbacks=[best],
        verbose=2,
    )
    losses = history.history["val_loss"]
    scored = {"best_epoch": int(np.argmin(losses)) + 1, "validation_loss": round(min(losses), 5)}
    return tf.keras.models.load_model(checkpoint), scored


def averaged(members: list):
    """One model whose activation is the mean of the ``members``' (one network is
    itself): networks trained on different grooves err on different hits, and their
    mean finds more of the soft ones in rooms than either (docs/benchmarks.md)."""
    import tensorflow as tf

    if len(members) == 1:
        return members[0]
    inputs = tf.keras.Input((ROWS, BANDS))
    for index, member in enumerate(members):
        member.name = f"onsets_{index}"  # layer names must differ within one graph
    mean = tf.keras.layers.Average()([member(inputs) for member in members])
    return tf.keras.Model(inputs, mean, name="onsets")


def train(settings: OnsetTraining, drum_machines: Path, out: Path) -> dict:
    """Render each member's grooves, train it, and export the members' mean to ``out``;
    what it scored. Each member's best epoch is kept beside ``out`` (``<stem>-<n>.keras``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(settings.seed)
    members, scores = [], []
    check = np.zeros(0)
    for index in range(settings.members):
        member = settings.member(index)
        train_set, validation = render_sets(member, drum_machines)
        print(
            f"member {index + 1} of {settings.members} (seed {member.seed}): "
            f"{len(train_set.targets)} training windows ({int(train_set.targets.sum())} "
            f"targets), {len(validation.targets)} validation windows",
            file=sys.stderr,
        )
        checkpoint = out.with_name(f"{out.stem}-{index}.keras")
        model, scored = fit(member, train_set, validation, checkpoint)
        members.append(model)
        targets = int(train_set.targets.sum())
        scores.append(scored | {"train_windows": len(train_set.targets), "train_targets": targets})
        if index == 0:
            check = validation.inputs[rng.choice(len(validation.inputs), 4000)]
        del train_set, validation  # a member's windows take gigabytes
    return export(members, scores, settings, check, out)


def export(
    members: list,
    scores: list[dict[str, Any]],
    settings: OnsetTraining,
    check: np.ndarray,
    out: Path,
) -> dict:
    """The ``members``' mean, exported (``QUANTIZATION``) with the contract and the
    self-test, to ``out`` and its contract beside it (.json); refused if the export
    strays from float by more than ``TOLERANCE`` on the ``check`` windows."""
    from timbrecast.trainer.export import convert, embed_contract, with_self_test

    model = averaged(members)
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints what it saved
        raw = convert(model, QUANTIZATION)
    reference = model.predict(check.astype(np.float32), verbose=0).ravel()
    metrics: dict[str, Any] = {key: [s[key] for s in scores] for key in scores[0]}
    contract = ActivationContract(
        model_id=f"onsets-int8-{hashlib.sha256(raw).hexdigest()[:8]}",
        features_version=FEATURES_VERSION,
        bands=BANDS,
        context=CONTEXT,
        frame_s=FRAME_S,
        hop_s=HOP_S,
        training_data={
            "settings": asdict(settings),
            "kits": "train part of trainer.split",
            "condition_weights": CONDITION_WEIGHTS,
            "target_hops": TARGET_HOPS,
            "quantization": QUANTIZATION,
        },
        metrics=metrics,
    )
    quantised = _activations(embed_contract(raw, contract, METADATA_NAME), check)
    metrics["export_vs_float_mae"] = round(float(np.abs(quantised - reference).mean()), 5)
    if metrics["export_vs_float_mae"] > TOLERANCE:
        raise ValueError(
            f"exported onset model differs from float by {metrics['export_vs_float_mae']} "
            f"(more than {TOLERANCE})"
        )
    final = with_self_test(embed_contract(raw, replace(contract, metrics=metrics), METADATA_NAME))
    out.write_bytes(final)
    contract = ActivationContract.from_json(metadata(final)[METADATA_NAME])
    (out.with_suffix(".json")).write_text(json.dumps(asdict(contract), indent=1) + "\n")
    return metrics


def _activations(content: bytes, inputs: np.ndarray) -> np.ndarray:
    """What the daemon's runtime makes of ``inputs`` through the model ``content``."""
    with tempfile.NamedTemporaryFile(suffix=".tflite") as handle:
        handle.write(content)
        handle.flush()
        path, frame = Path(handle.name), Framer(RATE).frame
        activation = Activation(RATE, frame, FRAME_S, HOP_S, path, channels=len(inputs))
        return np.array(activation.invoke(inputs.astype(np.float32)))
