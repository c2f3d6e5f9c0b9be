"""The four seed architectures, exactly as the seed's notebooks built them, and ours.

Every seed model takes a (16000, 1) waveform; every Conv1D has kernel 7, 'valid'
padding and ReLU, and is followed by MaxPooling1D(2); the output is Dense(7),
linear, on labels min-max normalised with the Freesound ranges.

``seven-filters-avg`` is what the seed's own discussion proposed, plus what the
field would add: average pooling (a down-sampled waveform that still resembles
the original), batch normalisation after each convolution, and dropout before
the dense head. Same layer sizes, so the same size and inference cost, give or
take the normalisation's few parameters.

``mel-cnn`` is not the seed's: a log-mel spectrogram computed inside the model
(so it takes the same waveform, and the daemon feeds it as any other), read by a
small 2-D CNN. The teacher's descriptors are spectral and temporal summaries of
the whole clip; seven filters of seven samples see neither far in frequency nor
far in time, and the early nets' curve (50-100 ms in a wider net beat seven-filters
on the whole second) said capacity, not audio, was what it lacked.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from timbrecast.daemon.activation import mel_edges
from timbrecast.daemon.contract import DESCRIPTORS, INPUT_LENGTH, SAMPLE_RATE

if TYPE_CHECKING:
    import tensorflow as tf

KERNEL = 7
OUTPUTS = len(DESCRIPTORS)

#: Parameter counts of the seed's notebooks, checked by a test.
SEED_PARAMETERS = {"big": 2_122_371, "seven-filters": 348_063, "mid": 283_623, "small": 130_697}

#: The mel-cnn's spectrogram: 32 ms Hann frames every 8 ms (122 frames of the
#: second), 64 mel bands from 20 Hz to 8 kHz, log10 of each band's power.
MEL_FFT = 512
MEL_HOP = 128
MEL_BANDS = 64
MEL_FMIN = 20.0
MEL_FMAX = 8000.0
#: Added to the band power before the log: -80 dB, under a normalised clip's tail.
MEL_FLOOR = 1e-8
MEL_WIDTHS = (16, 32, 32, 64)
#: The early nets' short spectrogram: 4 ms Hann frames every 1 ms, how the
#: attack's spectrum changes over the few milliseconds heard.
SHORT_FFT = 64
SHORT_HOP = 16


def _conv_stack(x, filters: list[int], strides: int = 1, average: bool = False, norm: bool = False):
    import tensorflow as tf

    layers = tf.keras.layers
    for count in filters:
        x = layers.Conv1D(
            count, KERNEL, strides=strides, padding="valid", activation=None if norm else "relu"
        )(x)
        if norm:
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        x = (layers.AveragePooling1D(2) if average else layers.MaxPooling1D(2))(x)
    return x


def _model(name: str, body: Callable, length: int = INPUT_LENGTH) -> tf.keras.Model:
    import tensorflow as tf

    inputs = tf.keras.Input((length, 1), name="waveform")
    return tf.keras.Model(inputs, body(inputs), name=name)


def big() -> tf.keras.Model:
    import tensorflow as tf

    def body(x):
        x = tf.keras.layers.Flatten()(_conv_stack(x, [100, 50, 20, 10, 4]))
        x = tf.keras.layers.Dense(1000, activation="relu")(x)
        x = tf.keras.layers.Dense(100, activation="relu")(x)
        return tf.keras.layers.Dense(OUTPUTS)(x)

    return _model("big", body)


def seven_filters() -> tf.keras.Model:
    import tensorflow as tf

    def body(x):
        x = tf.keras.layers.Flatten()(_conv_stack(x, [7] * 5))
        x = tf.keras.layers.Dense(100, activation="relu")(x)
        return tf.keras.layers.Dense(OUTPUTS)(x)

    return _model("seven-filters", body)


def mid() -> tf.keras.Model:
    import tensorflow as tf

    def body(x):
        x = tf.keras.layers.Flatten()(_conv_stack(x, [50, 10]))
        x = tf.keras.layers.Dense(7, activation="relu")(x)
        return tf.keras.layers.Dense(OUTPUTS)(x)

    return _model("mid", body)


def small() -> tf.keras.Model:
    import tensorflow as tf

    def body(x):
        x = tf.keras.layers.Flatten()(_conv_stack(x, [7], strides=3))
        return tf.keras.layers.Dense(OUTPUTS)(x)

    return _model("small", body)


def seven_filters_avg() -> tf.keras.Model:
    import tensorflow as tf

    def body(x):
        x = tf.keras.layers.Flatten()(_conv_stack(x, [7] * 5, average=True, norm=True))
        x = tf.keras.layers.Dropout(0.2)(x)
        x = tf.keras.layers.Dense(100, activation="relu")(x)
        return tf.keras.layers.Dense(OUTPUTS)(x)

    return _model("seven-filters-avg", body)


def early(length: int) -> tf.keras.Model:
    """The early-estimate net: the first few ms of a hit (``length`` samples, a few
    hundred) hold too little for the seed's 7-filter layers, so it widens them and
    keeps the stack shallow enough that the shortest input survives four poolings.

    Beside the waveform it reads two spectra of the same samples, computed inside
    the model as the mel-cnn's is: a short spectrogram (``SHORT_FFT`` frames every
    ``SHORT_HOP``) and one frame over everything heard, whose finer bins place a
    drum's first partials. On 10 ms they took the validation MAE from 0.0677 to
    0.0641 (an experiment with a 240-point whole frame; docs/model-card.md, "The
    early-estimate models")."""
    import tensorflow as tf

    layers = tf.keras.layers
    frames = (length - SHORT_FFT) // SHORT_HOP + 1
    whole_fft = 1 << (length - 1).bit_length()

    def body(x):
        waveform = layers.Flatten()(_conv_stack(x, [32, 64, 64, 64]))
        short = log_spectrum_layer()(SHORT_FFT, SHORT_HOP, SHORT_FFT, name="log_spectrum_short")(x)
        short = layers.Rescaling(1 / 3.0, offset=1.0)(short)
        short = layers.Reshape((frames, SHORT_FFT // 2 + 1, 1))(short)
        for width in (16, 32):
            short = layers.Conv2D(width, 3, padding="same", activation="relu")(short)
            short = layers.MaxPooling2D(2)(short)
        whole = log_spectrum_layer()(length, length, whole_fft, name="log_spectrum_whole")(x)
        whole = layers.Rescaling(1 / 3.0, offset=1.0)(layers.Flatten()(whole))
        whole = layers.Dense(64, activation="relu")(whole)
        x = layers.Concatenate()([waveform, layers.Flatten()(short), whole])
        x = layers.Dropout(0.3)(x)
        x = layers.Dense(128, activation="relu")(x)
        return layers.Dense(OUTPUTS)(x)

    return _model("early", body, length)


def mel_bank() -> np.ndarray:
    """(MEL_FFT // 2 + 1, MEL_BANDS) triangular mel weights."""
    freqs = np.fft.rfftfreq(MEL_FFT, 1.0 / SAMPLE_RATE)
    edges = mel_edges(MEL_FMIN, MEL_FMAX, MEL_BANDS)
    bank = np.zeros((MEL_BANDS, freqs.size), dtype=np.float32)
    for k in range(MEL_BANDS):
        low, centre, high = edges[k], edges[k + 1], edges[k + 2]
        rising = (freqs - low) / (centre - low)
        falling = (high - freqs) / (high - centre)
        bank[k] = np.clip(np.minimum(rising, falling), 0.0, None)
    return bank.T


def _hann_frames(clips: np.ndarray, frame: int, hop: int) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(clips, frame, axis=-1)[..., ::hop, :]
    return frames * np.hanning(frame)


def log_spectrum(clips: np.ndarray, frame: int, hop: int, fft: int) -> np.ndarray:
    """(n, samples) clips -> (n, frames, fft // 2 + 1): log10 power of Hann frames,
    what ``LogSpectrum`` computes, in numpy (the reference its test holds it to)."""
    power = np.abs(np.fft.rfft(_hann_frames(clips, frame, hop), n=fft)) ** 2
    return np.log10(MEL_FLOOR + power).astype(np.float32)


def log_mel(clips: np.ndarray) -> np.ndarray:
    """(n, INPUT_LENGTH) clips -> (n, frames, MEL_BANDS): what ``LogMel`` computes,
    in numpy (the reference its test holds it to)."""
    power = np.abs(np.fft.rfft(_hann_frames(clips, MEL_FFT, MEL_HOP))) ** 2
    return np.log10(MEL_FLOOR + power @ mel_bank()).astype(np.float32)


@cache
def log_mel_layer() -> type:
    """The Keras layer that turns a (batch, samples, 1) waveform into its log-mel
    spectrogram; registered so that a saved mel-cnn loads (``load``)."""
    import tensorflow as tf

    @tf.keras.utils.register_keras_serializable(package="timbrecast")
    class LogMel(tf.keras.layers.Layer):
        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            self._bank = tf.constant(mel_bank())

        def call(self, waveform):
            return _log_power(waveform, MEL_FFT, MEL_HOP, MEL_FFT, self._bank)

    return LogMel


@cache
def log_spectrum_layer() -> type:
    """The Keras layer that turns a (batch, samples, 1) waveform into the log10 power
    of its Hann frames (``frame`` samples every ``hop``, an ``fft``-point transform,
    a power of two as TFLite's RFFT2D needs); registered so that a saved early net
    loads (``load``)."""
    import tensorflow as tf

    @tf.keras.utils.register_keras_serializable(package="timbrecast")
    class LogSpectrum(tf.keras.layers.Layer):
        def __init__(self, frame: int, hop: int, fft: int, **kwargs) -> None:
            super().__init__(**kwargs)
            self.frame, self.hop, self.fft = frame, hop, fft

        def get_config(self) -> dict:
            return {**super().get_config(), "frame": self.frame, "hop": self.hop, "fft": self.fft}

        def call(self, waveform):
            return _log_power(waveform, self.frame, self.hop, self.fft)

    return LogSpectrum


def _log_power(
    waveform: tf.Tensor, frame: int, hop: int, fft: int, bank: tf.Tensor | None = None
) -> tf.Tensor:
    """log10 power (or band power, through ``bank``) of Hann frames, in TensorFlow."""
    import tensorflow as tf

    spectrum = tf.signal.stft(
        waveform[..., 0],
        frame,
        hop,
        fft,
        window_fn=lambda n, dtype: tf.signal.hann_window(n, periodic=False, dtype=dtype),
    )
    power = tf.square(tf.math.real(spectrum)) + tf.square(tf.math.imag(spectrum))
    if bank is not None:
        power = tf.matmul(power, bank)
    return tf.math.log(MEL_FLOOR + power) / float(np.log(10.0))


def load(path: Path) -> tf.keras.Model:
    """A saved model of any of these architectures (the mel-cnn's and the early
    nets' spectra are layers of ours, which Keras must be handed to load them)."""
    import tensorflow as tf

    custom = {"LogMel": log_mel_layer(), "LogSpectrum": log_spectrum_layer()}
    return tf.keras.models.load_model(path, custom_objects=custom)


def mel_cnn() -> tf.keras.Model:
    import tensorflow as tf

    layers = tf.keras.layers
    frames = (INPUT_LENGTH - MEL_FFT) // MEL_HOP + 1

    def body(x):
        x = log_mel_layer()()(x)
        # log10 power of a normalised clip runs from -8 (the floor) to about +2.
        x = layers.Rescaling(1 / 3.0, offset=1.0)(x)
        x = layers.Reshape((frames, MEL_BANDS, 1))(x)
        for width in MEL_WIDTHS:
            x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
            x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(0.2)(layers.Flatten()(x))
        x = layers.Dense(128, activation="relu")(x)
        return layers.Dense(OUTPUTS)(x)

    return _model("mel-cnn", body)


ARCHITECTURES: dict[str, Callable[[], tf.keras.Model]] = {
    "seven-filters": seven_filters,
    "seven-filters-avg": seven_filters_avg,
    "big": big,
    "mid": mid,
    "small": small,
    "mel-cnn": mel_cnn,
}
DEFAULT = "seven-filters"


def build(name: str, early_ms: float | None = None) -> tf.keras.Model:
    """A seed architecture, or with ``early_ms`` the early-estimate net for that many ms."""
    if early_ms is not None:
        from timbrecast.daemon.contract import early_length

        return early(early_length(early_ms))
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r} (choose from {', '.join(ARCHITECTURES)})")
    return ARCHITECTURES[name]()
