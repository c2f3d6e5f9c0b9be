"""The four seed architectures, exactly as the seed's notebooks built them, and ours.

Every seed model takes a (16000, 1) waveform; every Conv1D has kernel 7, 'valid'
padding and ReLU, and is followed by MaxPooling1D(2); the output is Dense(7),
linear, on labels min-max normalised with the Freesound ranges.

``seven-filters-avg`` is what the seed's own discussion proposed, plus what the
field would add: average pooling (a down-sampled waveform that still resembles
the original), batch normalisation after each convolution, and dropout before
the dense head. Same layer sizes, so the same size and inference cost, give or
take the normalisation's few parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from timbrecast.daemon.contract import DESCRIPTORS, INPUT_LENGTH

if TYPE_CHECKING:
    import tensorflow as tf

KERNEL = 7
OUTPUTS = len(DESCRIPTORS)

#: Parameter counts of the seed's notebooks, checked by a test.
SEED_PARAMETERS = {"big": 2_122_371, "seven-filters": 348_063, "mid": 283_623, "small": 130_697}


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
    keeps the stack shallow enough that the shortest input survives four poolings."""
    import tensorflow as tf

    def body(x):
        x = tf.keras.layers.Flatten()(_conv_stack(x, [32, 64, 64, 64]))
        x = tf.keras.layers.Dropout(0.3)(x)
        x = tf.keras.layers.Dense(128, activation="relu")(x)
        return tf.keras.layers.Dense(OUTPUTS)(x)

    return _model("early", body, length)


ARCHITECTURES: dict[str, Callable[[], tf.keras.Model]] = {
    "seven-filters": seven_filters,
    "seven-filters-avg": seven_filters_avg,
    "big": big,
    "mid": mid,
    "small": small,
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
