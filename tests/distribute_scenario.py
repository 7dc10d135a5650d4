"""Run as a script (by tests/test_distribute.py): MirroredStrategy over 2 logical CPUs vs one device.

Usage: python -m tests.distribute_scenario LOG_DIR
Prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

# Logical devices must be configured before TensorFlow initialises its devices.
(_cpu,) = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tb_metrics_plugin as tbm  # noqa: E402
from tests.readback import read_run  # noqa: E402

NUM_CLASSES = 3


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)).astype("float32")
    y = np.argmax(x[:, :NUM_CLASSES] + 0.7 * rng.normal(size=(300, NUM_CLASSES)), axis=1)
    # 101 validation samples: the last global batch does not split evenly over the two replicas.
    return (x[:199], y[:199]), (x[199:], y[199:])


def _model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(NUM_CLASSES, activation="softmax")])


def _metrics():
    return [tbm.ThresholdCurves(), tbm.ConfusionMatrix()]


def _state(model):
    curves, matrix = (m for m in _metrics_of(model))
    positive, negative = curves.histogram_values()
    return {"positive": positive.tolist(), "negative": negative.tolist(), "matrix": matrix.matrix_values().tolist()}


def _metrics_of(model):
    found = {}
    for metric in model._compile_metrics.metrics:
        found[type(metric).__name__] = metric
    return found["ThresholdCurves"], found["ConfusionMatrix"]


def main(log_dir: str) -> None:
    (x_train, y_train), (x_val, y_val) = _data()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = _model()
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=_metrics())
    model.fit(
        x_train, y_train, batch_size=32, epochs=2, verbose=0, validation_data=(x_val, y_val),
        callbacks=[tbm.MetricsCallback(log_dir)],
    )
    mirrored_state = _state(model)  # the metric variables as a callback reads them: aggregated
    mirrored_curves, _ = _metrics_of(model)
    validation = read_run(os.path.join(log_dir, "validation"))
    train = read_run(os.path.join(log_dir, "train"))

    # The same fit without training curves: training steps branch around counting on each replica.
    with strategy.scope():
        untrained_curves_model = _model()
        untrained_curves_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                                       metrics=_metrics())
    skipped_log_dir = os.path.join(log_dir, "no_training_curves")
    skipped_history = untrained_curves_model.fit(
        x_train, y_train, batch_size=32, epochs=2, verbose=0, validation_data=(x_val, y_val),
        callbacks=[tbm.MetricsCallback(skipped_log_dir, training_curves=False)],
    )
    skipped_validation = read_run(os.path.join(skipped_log_dir, "validation"))

    # One metric counting the curves and the matrix, evaluated under the strategy with the same weights.
    with strategy.scope():
        one_metric_model = _model()
        one_metric_model.compile(loss="sparse_categorical_crossentropy",
                                 metrics=[tbm.ThresholdCurves(confusion_matrix=True)])
    one_metric_model.set_weights(model.get_weights())
    one_metric_model.evaluate(x_val, y_val, batch_size=32, verbose=0)
    (one_metric,) = one_metric_model._compile_metrics.metrics
    one_positive, one_negative = one_metric.histogram_values()

    # Single device, same weights: compiled metrics through evaluate, and the numpy writer on predict.
    single = _model()
    single.set_weights(model.get_weights())
    single.compile(loss="sparse_categorical_crossentropy", metrics=_metrics())
    single.evaluate(x_val, y_val, batch_size=32, verbose=0)
    predictions = single.predict(x_val, batch_size=32, verbose=0)
    from tests.readback import reference_curves, reference_matrix

    # The strategy's state is grid counts (raw scores are not kept under a strategy): compare with the
    # numpy writer's grid counts.
    reference = reference_curves(y_val, predictions, exact=False)
    reference_cm = reference_matrix(y_val, predictions)
    skipped_predictions = untrained_curves_model.predict(x_val, batch_size=32, verbose=0)
    skipped_reference = reference_curves(y_val, skipped_predictions, exact=False)
    skipped_curves = skipped_validation["threshold_curves"][1]
    written_curves, written_matrix = validation["threshold_curves"][1], validation["confusion_matrix"][1]
    result = {
        "replicas": strategy.num_replicas_in_sync,
        "devices": [d.name for d in tf.config.list_logical_devices("CPU")],
        "validation_steps": sorted(validation["threshold_curves"]),
        "train_steps": sorted(train["threshold_curves"]),
        "train_matrix_total": float(train["confusion_matrix"][1].matrix.sum()),
        "mirrored_state": mirrored_state,
        "single_state": _state(single),
        "one_metric_state": {"positive": one_positive.tolist(), "negative": one_negative.tolist(),
                             "matrix": one_metric.matrix_values().tolist()},
        "written": {
            "positive": written_curves.positive_histograms.tolist(),
            "negative": written_curves.negative_histograms.tolist(),
            "matrix": written_matrix.matrix.tolist(),
        },
        "numpy_writer": {
            "positive": reference.positive_histograms.tolist(),
            "negative": reference.negative_histograms.tolist(),
            "matrix": reference_cm.matrix.tolist(),
        },
        "raw_items_kept": {"mirrored": mirrored_curves.raw_items is not None,
                           "single": _metrics_of(single)[0].raw_items is not None},
        "no_training_curves": {
            "train_written": os.path.exists(os.path.join(skipped_log_dir, "train")),
            "validation_steps": sorted(skipped_validation["threshold_curves"]),
            "validation_equals_numpy_writer": bool(
                np.array_equal(skipped_curves.positive_histograms, skipped_reference.positive_histograms)
                and np.array_equal(skipped_curves.negative_histograms, skipped_reference.negative_histograms)),
            "training_roc_auc_is_nan": bool(np.isnan(skipped_history.history["roc_auc"]).all()),
        },
        "num_validation": len(y_val),
        "num_train": len(y_train),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
