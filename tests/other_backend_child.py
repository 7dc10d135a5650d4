"""Run as a script (by tests/test_keras_backends.py) with KERAS_BACKEND set to jax or torch: our
Keras metrics there, standalone and compiled into a real `fit` with `MetricsCallback`.

Usage: python -m tests.other_backend_child LOG_DIR
Prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import json
import os
import sys

import keras
import numpy as np

import tb_metrics_plugin as tbm
from tests.readback import decode_summary, read_run, reference_curves, reference_matrix


def _same_curves(actual, expected) -> bool:
    return bool(np.array_equal(actual.positive_histograms, expected.positive_histograms)
                and np.array_equal(actual.negative_histograms, expected.negative_histograms))


def main(log_dir: str) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 50)
    logits = rng.normal(size=(50, 3))
    scores = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype("float32")
    curves, matrix, grid_only = tbm.ThresholdCurves(), tbm.ConfusionMatrix(), tbm.ThresholdCurves(max_raw_scores=0)
    for metric in (curves, matrix, grid_only):
        metric.update_state(labels[:20], scores[:20])
        metric.update_state(labels[20:], scores[20:])
    expected_curves = reference_curves(labels, scores)
    positive, negative = grid_only.histogram_values()

    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", metrics=[tbm.ThresholdCurves(), tbm.ConfusionMatrix()])
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x, y),
                        callbacks=[tbm.MetricsCallback(log_dir)])
    (fitted_curves,) = [m for m in model._compile_metrics.metrics if isinstance(m, tbm.ThresholdCurves)]
    written = read_run(os.path.join(log_dir, "validation"))
    predictions = model.predict(x, verbose=0)
    print(json.dumps({
        "backend": keras.backend.backend(),
        "raw_summary_equals_numpy_writer": _same_curves(decode_summary(curves.summary_pb()), expected_curves),
        "raw_items_kept": len(curves.raw_items.read()[0]),
        "histograms_equal_numpy_writer": bool(np.array_equal(positive, expected_curves.positive_histograms)
                                              and np.array_equal(negative, expected_curves.negative_histograms)),
        "matrix_equals_numpy_writer": bool(np.array_equal(decode_summary(matrix.summary_pb()).matrix,
                                                          reference_matrix(labels, scores).matrix)),
        "history_keys": sorted(history.history),
        "fit_validation_equals_numpy_writer": _same_curves(written["threshold_curves"][1],
                                                           reference_curves(y, predictions)),
        "fit_validation_kept_raw": fitted_curves.raw_items.read() is not None,
        "train_steps": sorted(read_run(os.path.join(log_dir, "train"))["threshold_curves"]),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
