"""Run as a script under a chosen Keras backend (by tests/test_backends.py): the compiled metrics and
`MetricsCallback` on that backend, with everything they count written out for the parent to compare
with the numpy writer.

Usage: KERAS_BACKEND=jax python -m tests.backend_child INPUTS_NPZ OUT_DIR

INPUTS_NPZ holds, for each case name `c` listed in its `cases` array, `c.labels`, `c.predictions`,
optionally `c.weights`, and `c.options` (JSON: keyword arguments of `ThresholdCurves`; those that
`ConfusionMatrix` takes too go to it as well; no matrix when `multi_label`); plus `x_train`,
`y_train`, `x_val`, `y_val` for the fits. Into OUT_DIR the child writes:

- `c.curves.pb` / `c.matrix.pb`: the serialized `Summary` of `ThresholdCurves` / `ConfusionMatrix`
  after `update_state` in three uneven batches; `c.both.pb` that of `ThresholdCurves(
  confusion_matrix=True)` (not for `multi_label`);
- `compiled/` and `data/`: the log dirs of a 2-epoch `fit` with compiled metrics and
  `MetricsCallback(compiled)`, and of one with `MetricsCallback(data, validation_data=...)`;
- `predictions.npz`: `compiled_train_<epoch>` (train predictions with the weights epoch `epoch`
  starts with: one full-batch step per epoch, so that is what the training split counts),
  `compiled_val` and `data_val` (validation predictions after each fit);
- `backend.txt`: `keras.backend.backend()` as seen by the child.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

EPOCHS = 2
SPLITS = (7, 30)  # three uneven batches
MATRIX_OPTIONS = ("from_logits", "ignore_class", "class_names")


def _update_in_batches(metric, labels, predictions, weights) -> None:
    for rows in np.split(np.arange(len(labels)), list(SPLITS)):
        metric.update_state(labels[rows], predictions[rows], sample_weight=None if weights is None else weights[rows])


def _count_cases(inputs, out_dir: str) -> None:
    import tb_metrics_plugin as tbm

    for case in inputs["cases"]:
        case = str(case)
        labels, predictions = inputs[f"{case}.labels"], inputs[f"{case}.predictions"]
        weights = inputs[f"{case}.weights"] if f"{case}.weights" in inputs.files else None
        options = json.loads(str(inputs[f"{case}.options"]))
        curves = tbm.ThresholdCurves(**options)
        _update_in_batches(curves, labels, predictions, weights)
        with open(os.path.join(out_dir, f"{case}.curves.pb"), "wb") as file:
            file.write(curves.summary_pb().SerializeToString())
        if not options.get("multi_label"):
            matrix = tbm.ConfusionMatrix(**{k: v for k, v in options.items() if k in MATRIX_OPTIONS})
            _update_in_batches(matrix, labels, predictions, weights)
            with open(os.path.join(out_dir, f"{case}.matrix.pb"), "wb") as file:
                file.write(matrix.summary_pb().SerializeToString())
            both = tbm.ThresholdCurves(confusion_matrix=True, **options)
            _update_in_batches(both, labels, predictions, weights)
            with open(os.path.join(out_dir, f"{case}.both.pb"), "wb") as file:
                file.write(both.summary_pb().SerializeToString())


def _model(num_features: int):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((num_features,)), keras.layers.Dense(1, activation="sigmoid")])
    return model


def _fits(inputs, out_dir: str) -> dict[str, np.ndarray]:
    import keras

    import tb_metrics_plugin as tbm

    x_train, y_train, x_val, y_val = (inputs[k] for k in ("x_train", "y_train", "x_val", "y_val"))
    predictions = {}

    class TrainPredictionsAtEpochBegin(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            predictions[f"compiled_train_{epoch}"] = self.model.predict(x_train, batch_size=len(x_train), verbose=0)

    compiled = _model(x_train.shape[1])
    compiled.compile(optimizer=keras.optimizers.SGD(0.05), loss="binary_crossentropy",
                     metrics=[tbm.ThresholdCurves(), tbm.ConfusionMatrix()])
    compiled.fit(x_train, y_train, batch_size=len(x_train), epochs=EPOCHS, verbose=0, validation_data=(x_val, y_val),
                 callbacks=[TrainPredictionsAtEpochBegin(), tbm.MetricsCallback(os.path.join(out_dir, "compiled"))])
    predictions["compiled_val"] = compiled.predict(x_val, batch_size=len(x_val), verbose=0)

    plain = _model(x_train.shape[1])
    plain.compile(optimizer=keras.optimizers.SGD(0.05), loss="binary_crossentropy")
    plain.fit(x_train, y_train, batch_size=32, epochs=EPOCHS, verbose=0,
              callbacks=[tbm.MetricsCallback(os.path.join(out_dir, "data"), (x_val, y_val))])
    predictions["data_val"] = plain.predict(x_val, batch_size=len(x_val), verbose=0)
    return predictions


def main(argv: list[str]) -> None:
    inputs_path, out_dir = argv
    import keras

    with open(os.path.join(out_dir, "backend.txt"), "w") as file:
        file.write(keras.backend.backend())
    inputs = np.load(inputs_path)
    _count_cases(inputs, out_dir)
    np.savez(os.path.join(out_dir, "predictions.npz"), **_fits(inputs, out_dir))


if __name__ == "__main__":
    main(sys.argv[1:])
