"""`MetricsCallback` in real Keras `fit` runs: what it writes, where, at which steps, and when it refuses."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

import tb_metrics_plugin as tbm
from tb_metrics_plugin import callback as callback_module
from tb_metrics_plugin import core
from tests.conftest import tiny_binary_model
from tests.readback import (
    assert_same_curves,
    assert_same_matrix,
    on_grid,
    read_run,
    reference_curves,
    reference_matrix,
    scalar_steps,
)

pytestmark = pytest.mark.slow  # real Keras fits, one or more per test

OUR_TAGS = {"threshold_curves", "confusion_matrix"}


def _count_predict_on_batch(model) -> list:
    """Wraps `model.predict_on_batch`; the returned list grows by one per call."""
    calls = []
    original = model.predict_on_batch

    def counted(x):
        calls.append(len(x) if hasattr(x, "__len__") else None)
        return original(x)

    model.predict_on_batch = counted
    return calls


class _PredictionsAtEpochBegin(keras.callbacks.Callback):
    """Predictions on `x` with the weights each epoch starts with (what one full-batch step counts)."""

    def __init__(self, x):
        super().__init__()
        self.x = x
        self.predictions = {}

    def on_epoch_begin(self, epoch, logs=None):
        self.predictions[epoch] = self.model.predict(self.x, batch_size=len(self.x), verbose=0)


def _binary_model(num_features, metrics=None):
    model = tiny_binary_model(num_features)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="binary_crossentropy", metrics=metrics or [])
    return model


# Compiled metrics ---------------------------------------------------------------------------------


def _our_compiled_metrics(form: str) -> list:
    """Our metrics compiled as `form` says: "one metric" counts the curves and the matrix,
    "two metrics" are `ThresholdCurves` and `ConfusionMatrix` side by side. Both write the same."""
    if form == "one metric":
        return [tbm.ThresholdCurves(confusion_matrix=True)]
    return [tbm.ThresholdCurves(), tbm.ConfusionMatrix()]


@pytest.fixture(scope="module", params=["one metric", "two metrics"])
def compiled_run(request, tmp_path_factory, breast_cancer):
    (x_train, y_train), (x_val, y_val) = breast_cancer
    x_train, y_train = x_train[:128], y_train[:128]
    run = tmp_path_factory.mktemp("compiled") / "run"
    model = _binary_model(x_train.shape[1], _our_compiled_metrics(request.param))
    calls = _count_predict_on_batch(model)
    recorder = _PredictionsAtEpochBegin(x_train)
    history = model.fit(
        x_train, y_train, batch_size=len(x_train), epochs=3, verbose=0, validation_data=(x_val, y_val),
        callbacks=[recorder, keras.callbacks.TensorBoard(str(run)), tbm.MetricsCallback(run)],
    )
    return {
        "run": run, "model": model, "calls": calls, "train_predictions": recorder.predictions,
        "y_train": y_train, "x_val": x_val, "y_val": y_val, "history": history.history, "form": request.param,
    }


def test_compiled_metrics_write_validation_state_without_extra_pass(compiled_run):
    written = read_run(compiled_run["run"] / "validation")
    assert set(written) == OUR_TAGS
    assert sorted(written["threshold_curves"]) == sorted(written["confusion_matrix"]) == [0, 1, 2]
    # The callback read the compiled metrics' state; it never predicted anything itself.
    assert compiled_run["calls"] == []

    x_val, y_val = compiled_run["x_val"], compiled_run["y_val"]
    predictions = compiled_run["model"].predict(x_val, verbose=0)
    assert_same_curves(written["threshold_curves"][2], reference_curves(y_val, predictions))
    assert_same_matrix(written["confusion_matrix"][2], reference_matrix(y_val, predictions))
    assert written["confusion_matrix"][2].matrix.sum() == len(y_val)
    # The validation split fit the raw record: the curves were counted from the items themselves.
    (curves,) = [m for m in compiled_run["model"]._compile_metrics.metrics if isinstance(m, tbm.ThresholdCurves)]
    assert len(curves.raw_items.read()[0]) == len(y_val)
    assert written["threshold_curves"][2].class_names == ("positive",)
    assert written["confusion_matrix"][2].class_names == ("negative", "positive")
    # The model learns: the epochs are different states, not one state written three times.
    assert not np.array_equal(written["threshold_curves"][0].positive_histograms,
                              written["threshold_curves"][2].positive_histograms)


class _RawItemsAtValidationStart(keras.callbacks.Callback):
    """Records, when validation begins (before Keras' reset), how many raw items the training
    steps kept: listed after MetricsCallback, it sees the training state that was just written."""

    def __init__(self):
        super().__init__()
        self.kept = []

    def on_test_begin(self, logs=None):
        (curves,) = [m for m in self.model._compile_metrics.metrics if isinstance(m, tbm.ThresholdCurves)]
        self.kept.append(curves.raw_items.kept())


@pytest.mark.parametrize("exact_training_curves", [False, True])
def test_training_split_keeps_raw_items_only_when_asked(tmp_path, breast_cancer, exact_training_curves):
    """The validation split always fits the record. The training split's step keeps raw scores
    only with exact_training_curves=True (then a small split's curves are its predictions' own);
    by default its step is traced without the record and `train` is written on the grid."""
    (x_train, y_train), (x_val, y_val) = breast_cancer
    model = _binary_model(x_train.shape[1], [tbm.ThresholdCurves()])
    inspector = _RawItemsAtValidationStart()
    callback = tbm.MetricsCallback(tmp_path, exact_training_curves=exact_training_curves)
    model.fit(x_train[:64], y_train[:64], batch_size=16, epochs=2, verbose=0, validation_data=(x_val, y_val),
              callbacks=[callback, inspector])
    assert inspector.kept == ([64, 64] if exact_training_curves else [0, 0])
    (curves,) = [m for m in model._compile_metrics.metrics if isinstance(m, tbm.ThresholdCurves)]
    assert len(curves.raw_items.read()[0]) == len(y_val)
    train, validation = read_run(tmp_path / "train"), read_run(tmp_path / "validation")
    assert train["threshold_curves"][1].exact.tolist() == [exact_training_curves]
    assert validation["threshold_curves"][1].exact.tolist() == [True]
    # Counted either way: the training state holds the 64 training items.
    assert train["threshold_curves"][1].positive_histograms.sum() + \
        train["threshold_curves"][1].negative_histograms.sum() == 64


class _StateAtValidationStart(keras.callbacks.Callback):
    """The compiled ThresholdCurves' histogram total when validation begins (before Keras' reset)."""

    def __init__(self):
        super().__init__()
        self.totals = []

    def on_test_begin(self, logs=None):
        (curves,) = [m for m in self.model._compile_metrics.metrics if isinstance(m, tbm.ThresholdCurves)]
        self.totals.append(sum(h.sum() for h in curves.histogram_values()))


@pytest.mark.parametrize("form", ["one metric", "two metrics"])
def test_without_training_curves_training_steps_count_nothing(tmp_path, breast_cancer, form):
    (x_train, y_train), (x_val, y_val) = breast_cancer
    model = _binary_model(x_train.shape[1], _our_compiled_metrics(form))
    inspector = _StateAtValidationStart()
    history = model.fit(
        x_train[:64], y_train[:64], batch_size=16, epochs=2, verbose=0, validation_data=(x_val, y_val),
        callbacks=[tbm.MetricsCallback(tmp_path, training_curves=False), inspector],
    )
    assert inspector.totals == [0, 0]  # the training steps left the state empty
    assert np.isnan(history.history["roc_auc"]).all()
    assert form == "one metric" or np.isnan(history.history["cm_accuracy"]).all()
    assert np.isfinite(history.history["val_roc_auc"]).all()
    assert not (tmp_path / "train").exists()
    written = read_run(tmp_path / "validation")
    predictions = model.predict(x_val, verbose=0)
    assert_same_curves(written["threshold_curves"][1], reference_curves(y_val, predictions))
    assert_same_matrix(written["confusion_matrix"][1], reference_matrix(y_val, predictions))


def test_compiled_metrics_write_training_state(compiled_run):
    written = read_run(compiled_run["run"] / "train")
    assert set(written) == OUR_TAGS
    y_train = compiled_run["y_train"]
    for epoch in range(3):
        # One full batch per epoch: the training state is the forward pass with the epoch's first weights.
        predictions = compiled_run["train_predictions"][epoch]
        assert_same_curves(written["threshold_curves"][epoch], reference_curves(y_train, predictions))
        assert_same_matrix(written["confusion_matrix"][epoch], reference_matrix(y_train, predictions))


def test_steps_align_with_keras_tensorboard_scalars(compiled_run):
    for split in ("train", "validation"):
        written = read_run(compiled_run["run"] / split)
        keras_steps = scalar_steps(compiled_run["run"] / split, "epoch_loss")
        assert keras_steps == [0, 1, 2]
        for tag in OUR_TAGS:
            assert sorted(written[tag]) == keras_steps


def _scalar_values(run_dir, tag: str) -> list[float]:
    """Values, by step, of a scalar Keras' TensorBoard callback wrote."""
    accumulator = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    accumulator.Reload()
    events = sorted(accumulator.Tensors(tag), key=lambda event: event.step)
    return [float(tensor_util.make_ndarray(event.tensor_proto)) for event in events]


def test_keras_logs_name_the_values_by_what_they_are(compiled_run):
    """The progress bar, History and Keras' TensorBoard scalars show `roc_auc` (ThresholdCurves'
    result, the ROC-AUC of the written counts) and `cm_accuracy` (ConfusionMatrix's result, when
    compiled), while our own tags stay `threshold_curves` and `confusion_matrix`."""
    history = compiled_run["history"]
    names = ("roc_auc",) if compiled_run["form"] == "one metric" else ("roc_auc", "cm_accuracy")
    assert set(history) == {"loss", *names, "val_loss", *(f"val_{name}" for name in names)}
    for split, prefix in (("train", ""), ("validation", "val_")):
        for name in names:
            np.testing.assert_allclose(_scalar_values(compiled_run["run"] / split, f"epoch_{name}"),
                                       history[prefix + name], rtol=1e-6)
        assert set(read_run(compiled_run["run"] / split)) == OUR_TAGS
    validation = read_run(compiled_run["run"] / "validation")
    for epoch in range(3):
        curves, matrix = validation["threshold_curves"][epoch], validation["confusion_matrix"][epoch]
        written_auc = core.roc_auc(curves.positive_histograms[0], curves.negative_histograms[0])
        assert history["val_roc_auc"][epoch] == pytest.approx(written_auc, abs=1e-3)
        if "cm_accuracy" in names:
            assert history["val_cm_accuracy"][epoch] == pytest.approx(np.trace(matrix.matrix) / matrix.matrix.sum())


def test_metrics_writing_the_same_tag_are_refused_before_training(tmp_path, breast_cancer):
    (x_train, y_train), _ = breast_cancer
    model = _binary_model(x_train.shape[1], [tbm.ThresholdCurves(confusion_matrix=True), tbm.ConfusionMatrix()])
    with pytest.raises(ValueError, match="compiled metrics 'roc_auc' and 'cm_accuracy' both write the tag "
                                         "'confusion_matrix'.*drop ConfusionMatrix"):
        model.fit(x_train[:16], y_train[:16], epochs=1, verbose=0, callbacks=[tbm.MetricsCallback(tmp_path)])
    assert not (tmp_path / "train").exists()


def test_validation_freq_writes_train_only_on_epochs_without_validation(tmp_path, breast_cancer):
    (x_train, y_train), (x_val, y_val) = breast_cancer
    run = tmp_path / "run"
    model = _binary_model(x_train.shape[1], [tbm.ThresholdCurves(), tbm.ConfusionMatrix()])
    model.fit(
        x_train[:64], y_train[:64], batch_size=64, epochs=4, verbose=0, validation_data=(x_val, y_val),
        validation_freq=2, callbacks=[keras.callbacks.TensorBoard(str(run)), tbm.MetricsCallback(run)],
    )
    validation, train = read_run(run / "validation"), read_run(run / "train")
    assert sorted(validation["threshold_curves"]) == scalar_steps(run / "validation", "epoch_loss") == [1, 3]
    assert sorted(train["threshold_curves"]) == scalar_steps(run / "train", "epoch_loss") == [0, 1, 2, 3]
    # Training counts are over the 64 training samples, validation counts over the validation set.
    for epoch in range(4):
        assert train["confusion_matrix"][epoch].matrix.sum() == 64
    assert validation["confusion_matrix"][3].matrix.sum() == len(y_val)
    assert_same_matrix(validation["confusion_matrix"][3], reference_matrix(y_val, model.predict(x_val, verbose=0)))


def test_multiclass_digits(tmp_path):
    from sklearn.datasets import load_digits

    features, labels = load_digits(return_X_y=True)
    features = (features / 16).astype("float32")
    x_train, y_train, x_val, y_val = features[:300], labels[:300], features[300:500], labels[300:500]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    names = [f"digit {d}" for d in range(10)]
    model.compile(optimizer=keras.optimizers.Adam(0.03), loss="sparse_categorical_crossentropy",
                  metrics=_our_compiled_metrics("one metric"))
    model.fit(x_train, y_train, epochs=2, verbose=0, validation_data=(x_val, y_val),
              callbacks=[tbm.MetricsCallback(tmp_path, class_names=names)])
    written = read_run(tmp_path / "validation")
    predictions = model.predict(x_val, verbose=0)
    curves, matrix = written["threshold_curves"][1], written["confusion_matrix"][1]
    assert curves.positive_histograms.shape == (10, curves.thresholds.shape[-1] + 1)
    assert curves.exact.all()  # the compiled metric kept the 200 validation scores: stored exactly
    assert_same_curves(curves, reference_curves(y_val, predictions, class_names=names))
    assert matrix.matrix.shape == (10, 10)
    assert_same_matrix(matrix, reference_matrix(y_val, predictions, class_names=names))
    assert np.trace(matrix.matrix) > 100  # the model learned something: argmax mostly right
    # One positive per sample across the ten one-vs-rest curves.
    assert curves.positive_histograms.sum() == len(y_val)


def test_class_names_of_wrong_length_raise(tmp_path, breast_cancer):
    (x_train, y_train), (x_val, y_val) = breast_cancer
    model = _binary_model(x_train.shape[1], [tbm.ThresholdCurves()])
    with pytest.raises(ValueError, match="class_names has 3 names but the data has 2 classes"):
        model.fit(x_train[:32], y_train[:32], epochs=1, verbose=0, validation_data=(x_val[:32], y_val[:32]),
                  callbacks=[tbm.MetricsCallback(tmp_path, class_names=["a", "b", "c"])])
    assert read_run(tmp_path / "validation") == {}
    # The validation_data path checks them too.
    with pytest.raises(ValueError, match="class_names has 1 names but the data has 2 classes"):
        model.fit(x_train[:32], y_train[:32], epochs=1, verbose=0,
                  callbacks=[tbm.MetricsCallback(tmp_path, (x_val, y_val), class_names=["only"])])
    assert read_run(tmp_path / "validation") == {}


def test_multilabel_writes_curves_and_no_confusion_matrix(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 6)).astype("float32")
    y = (x[:, :3] + 0.5 * rng.normal(size=(160, 3)) > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[tbm.ThresholdCurves(multi_label=True)])
    model.fit(x[:100], y[:100], epochs=2, verbose=0, validation_data=(x[100:], y[100:]),
              callbacks=[tbm.MetricsCallback(tmp_path / "compiled")])
    predictions = model.predict(x[100:], verbose=0)
    written = read_run(tmp_path / "compiled" / "validation")
    assert set(written) == {"threshold_curves"}
    assert_same_curves(written["threshold_curves"][1], reference_curves(y[100:], predictions, multi_label=True))

    # validation_data path: confusion_matrix=True (the default) is ignored for multi-label data.
    plain = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="sigmoid")])
    plain.compile(optimizer="adam", loss="binary_crossentropy")
    plain.fit(x[:100], y[:100], epochs=2, verbose=0,
              callbacks=[tbm.MetricsCallback(tmp_path / "data", (x[100:], y[100:]), multi_label=True)])
    written = read_run(tmp_path / "data" / "validation")
    assert set(written) == {"threshold_curves"}
    assert sorted(written["threshold_curves"]) == [0, 1]
    expected = reference_curves(y[100:], plain.predict(x[100:], verbose=0), multi_label=True)
    assert_same_curves(written["threshold_curves"][1], expected)
    # Multi-label: a sample can be a positive of several classes.
    assert expected.positive_histograms.sum() == y[100:].sum() > 60


def _segmentation_data(num_classes=3):
    rng = np.random.default_rng(4)
    images = rng.normal(size=(48, 8, 8, 1)).astype("float32")
    labels = np.digitize(images[..., 0], [-0.5, 0.5]).astype("int32")  # classes 0, 1, 2 by intensity
    labels[rng.random(labels.shape) < 0.15] = 255  # void pixels
    return images, labels


def _segmentation_model(num_classes=3):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(num_classes, 1, activation="softmax"),
    ])
    return model


def test_maps_large_enough_to_compile_are_counted_in_fit(tmp_path):
    """Maps of 40 × 40 pixels × 3 classes hold 4,800 scores an image: Keras' steps, traced with the
    batch size unknown, compute their cells in one XLA-compiled function and add them with one
    dense add. Without the raw record, the validation split is written from those histograms and
    equals the numpy writer's counts of `model.predict`, re-binned on the grid; the matrix too."""
    rng = np.random.default_rng(5)
    images = rng.normal(size=(24, 40, 40, 1)).astype("float32")
    labels = np.digitize(images[..., 0], [-0.5, 0.5]).astype("int32")
    labels[rng.random(labels.shape) < 0.15] = 255
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((40, 40, 1)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(3, 1, activation="softmax"),
    ])
    curves_metric = tbm.ThresholdCurves(ignore_class=255, confusion_matrix=True, max_raw_scores=0)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=255),
                  metrics=[curves_metric])
    model.fit(images[:16], labels[:16], batch_size=4, epochs=1, verbose=0,
              validation_data=(images[16:], labels[16:]), callbacks=[tbm.MetricsCallback(tmp_path)])
    assert curves_metric._compiled_cells is not None  # the steps took the compiled cells
    predictions = model.predict(images[16:], verbose=0)
    written = read_run(tmp_path / "validation")
    expected = reference_curves(labels[16:], predictions, ignore_class=255)
    assert_same_curves(written["threshold_curves"][0], on_grid(expected, curves_metric.thresholds))
    assert_same_matrix(written["confusion_matrix"][0], reference_matrix(labels[16:], predictions, ignore_class=255))
    assert written["confusion_matrix"][0].matrix.sum() == (labels[16:] != 255).sum()


def test_segmentation_with_ignore_class(tmp_path):
    images, labels = _segmentation_data()
    model = _segmentation_model()
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=255),
        metrics=[tbm.ThresholdCurves(ignore_class=255), tbm.ConfusionMatrix(ignore_class=255)],
    )
    callback = tbm.MetricsCallback(tmp_path / "compiled")
    model.fit(images[:32], labels[:32], epochs=2, verbose=0, validation_data=(images[32:], labels[32:]),
              callbacks=[callback])
    predictions = model.predict(images[32:], verbose=0)
    assert predictions.shape == (16, 8, 8, 3)
    written = read_run(tmp_path / "compiled" / "validation")
    counted_pixels = int((labels[32:] != 255).sum())
    curves, matrix = written["threshold_curves"][1], written["confusion_matrix"][1]
    assert_same_curves(curves, reference_curves(labels[32:], predictions, ignore_class=255))
    assert_same_matrix(matrix, reference_matrix(labels[32:], predictions, ignore_class=255))
    assert matrix.matrix.shape == (3, 3) and matrix.matrix.sum() == counted_pixels
    assert matrix.ignore_class == 255

    # The validation_data path, with per-pixel weights, on a model without our metrics (compiled
    # metrics take precedence over validation_data).
    model = _segmentation_model()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=255))
    weights = np.random.default_rng(1).choice([0.5, 1.0, 2.0], size=labels[32:].shape).astype("float32")
    model.fit(images[:32], labels[:32], epochs=1, verbose=0, callbacks=[
        tbm.MetricsCallback(tmp_path / "data", (images[32:], labels[32:], weights), ignore_class=255, batch_size=5)])
    written = read_run(tmp_path / "data" / "validation")
    predictions = model.predict(images[32:], verbose=0)
    expected = reference_curves(labels[32:], predictions, ignore_class=255, sample_weight=weights)
    assert_same_curves(written["threshold_curves"][0], expected)
    expected_matrix = reference_matrix(labels[32:], predictions, ignore_class=255, sample_weight=weights)
    assert_same_matrix(written["confusion_matrix"][0], expected_matrix)
    assert written["confusion_matrix"][0].matrix.sum() == weights[labels[32:] != 255].sum()


# validation_data ----------------------------------------------------------------------------------


class _ValidationSequence(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return math.ceil(len(self.y) / self.batch_size)

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[rows], self.y[rows]


def _validation_inputs(kind, x_val, y_val, weights):
    if kind == "arrays":
        return (x_val, y_val), None
    if kind == "arrays_weighted":
        return (x_val, y_val, weights), weights
    if kind == "tf_data":
        return tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(32), None
    if kind == "tf_data_weighted":
        return tf.data.Dataset.from_tensor_slices((x_val, y_val, weights)).batch(32), weights
    return _ValidationSequence(x_val, y_val, 32), None


@pytest.mark.parametrize("kind", ["arrays", "arrays_weighted", "tf_data", "tf_data_weighted", "py_dataset"])
@pytest.mark.parametrize("block_items", [None, 40], ids=["one_block", "blocks_of_2_batches"])
def test_validation_data_path(tmp_path, monkeypatch, breast_cancer, kind, block_items):
    """Predictions are counted in blocks of batches; 40 items make blocks of 2 batches of 32 and a
    ragged last one, and must count exactly as one block."""
    if block_items is not None:
        monkeypatch.setattr(callback_module, "_BLOCK_ITEMS", block_items)
    (x_train, y_train), (x_val, y_val) = breast_cancer
    weights = np.random.default_rng(0).choice([0.5, 1.0, 3.0], size=len(y_val)).astype("float32")
    validation_data, expected_weights = _validation_inputs(kind, x_val, y_val, weights)
    model = _binary_model(x_train.shape[1], ["accuracy"])
    calls = _count_predict_on_batch(model)
    model.fit(x_train[:128], y_train[:128], epochs=2, verbose=0,
              callbacks=[tbm.MetricsCallback(tmp_path, validation_data)])
    # Counted batch by batch: ceil(169 / 32) = 6 predict_on_batch calls per epoch.
    assert len(calls) == 2 * math.ceil(len(y_val) / 32)
    assert not (tmp_path / "train").exists()  # only the validation data is counted
    written = read_run(tmp_path / "validation")
    assert set(written) == OUR_TAGS
    assert sorted(written["threshold_curves"]) == [0, 1]
    predictions = model.predict(x_val, verbose=0)
    assert_same_curves(written["threshold_curves"][1],
                       reference_curves(y_val, predictions, sample_weight=expected_weights))
    assert_same_matrix(written["confusion_matrix"][1],
                       reference_matrix(y_val, predictions, sample_weight=expected_weights))
    expected_total = len(y_val) if expected_weights is None else expected_weights.sum()
    assert written["confusion_matrix"][1].matrix.sum() == pytest.approx(expected_total)


def test_validation_data_from_logits(tmp_path, breast_cancer):
    (x_train, y_train), (x_val, y_val) = breast_cancer
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((x_train.shape[1],)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x_train[:64], y_train[:64], epochs=1, verbose=0,
              callbacks=[tbm.MetricsCallback(tmp_path, (x_val, y_val), from_logits=True)])
    written = read_run(tmp_path / "validation")
    logits = model.predict(x_val, verbose=0)
    assert logits.min() < 0 or logits.max() > 1
    assert_same_curves(written["threshold_curves"][0], reference_curves(y_val, logits, from_logits=True))


# Refusals -----------------------------------------------------------------------------------------


def test_nothing_to_count_raises_at_fit_start(tmp_path, breast_cancer):
    (x_train, y_train), _ = breast_cancer
    model = _binary_model(x_train.shape[1], ["accuracy"])
    epochs_started = []
    with pytest.raises(ValueError) as error:
        model.fit(x_train[:32], y_train[:32], epochs=1, verbose=0, callbacks=[
            tbm.MetricsCallback(tmp_path),
            keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: epochs_started.append(epoch)),
        ])
    message = str(error.value)
    assert "ThresholdCurves(confusion_matrix=True)" in message and "validation_data=" in message
    assert epochs_started == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["arrays", "tf_data"])
def test_empty_validation_data_raises(tmp_path, breast_cancer, kind):
    (x_train, y_train), (x_val, y_val) = breast_cancer
    empty = (x_val[:0], y_val[:0])
    if kind == "tf_data":
        empty = tf.data.Dataset.from_tensor_slices(empty).batch(8)
    model = _binary_model(x_train.shape[1])
    with pytest.raises(ValueError, match="validation_data is empty"):
        model.fit(x_train[:32], y_train[:32], epochs=1, verbose=0, callbacks=[tbm.MetricsCallback(tmp_path, empty)])
    assert list(tmp_path.iterdir()) == []


def test_infinite_validation_dataset_raises_at_fit_start(tmp_path, breast_cancer):
    (x_train, y_train), (x_val, y_val) = breast_cancer
    infinite = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(32).repeat()
    model = _binary_model(x_train.shape[1])
    epochs_started = []
    with pytest.raises(ValueError, match="infinite"):
        model.fit(x_train[:32], y_train[:32], epochs=1, verbose=0, callbacks=[
            tbm.MetricsCallback(tmp_path, infinite),
            keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: epochs_started.append(epoch)),
        ])
    assert epochs_started == []
    # A finite piece of it is fine.
    model.fit(x_train[:32], y_train[:32], epochs=1, verbose=0,
              callbacks=[tbm.MetricsCallback(tmp_path, infinite.take(2))])
    assert read_run(tmp_path / "validation")["confusion_matrix"][0].matrix.sum() == 64


def _two_input_model(num_features):
    keras.utils.set_random_seed(0)
    first, second = keras.Input((num_features,), name="first"), keras.Input((num_features,), name="second")
    output = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Concatenate()([first, second]))
    model = keras.Model({"first": first, "second": second}, output)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    return model


def test_validation_data_with_several_inputs(tmp_path, breast_cancer):
    (x_train, y_train), (x_val, y_val) = breast_cancer
    model = _two_input_model(x_train.shape[1])
    train_inputs = {"first": x_train[:64], "second": -x_train[:64]}
    val_inputs = {"first": x_val, "second": -x_val}
    model.fit(train_inputs, y_train[:64], epochs=1, verbose=0,
              callbacks=[tbm.MetricsCallback(tmp_path, (val_inputs, y_val), batch_size=50)])
    written = read_run(tmp_path / "validation")
    # The same batches as the callback's: exact counts keep the scores to the last bit, and float32
    # matrix products can differ in it between batch compositions.
    predictions = model.predict(val_inputs, batch_size=50, verbose=0)
    assert_same_curves(written["threshold_curves"][0], reference_curves(y_val, predictions))
    assert written["confusion_matrix"][0].matrix.sum() == len(y_val)
    # Empty: the number of samples is the labels' length, not the number of inputs.
    empty = ({"first": x_val[:0], "second": x_val[:0]}, y_val[:0])
    epochs_started = []
    with pytest.raises(ValueError, match="validation_data is empty"):
        model.fit(train_inputs, y_train[:64], epochs=1, verbose=0, callbacks=[
            tbm.MetricsCallback(tmp_path / "empty", empty),
            keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: epochs_started.append(epoch)),
        ])
    assert epochs_started == []


def test_validation_data_all_ignored_raises(tmp_path):
    images, labels = _segmentation_data()
    model = _segmentation_model()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=255))
    void = np.full_like(labels[:8], 255)
    with pytest.raises(ValueError, match="no items to count"):
        model.fit(images[:8], labels[:8], epochs=1, verbose=0,
                  callbacks=[tbm.MetricsCallback(tmp_path, (images[:8], void), ignore_class=255)])
    assert read_run(tmp_path / "validation") == {}


class _PoisonAfter(keras.layers.Layer):
    """Passes its input through until `poisoned` is set, then outputs NaN."""

    def build(self, input_shape):
        self.poisoned = self.add_weight(shape=(), initializer="zeros", trainable=False, name="poisoned")

    def call(self, inputs):
        return keras.ops.where(self.poisoned > 0, keras.ops.full_like(inputs, np.nan), inputs)


def _poisoned_model(num_features):
    keras.utils.set_random_seed(0)
    poison = _PoisonAfter()
    model = keras.Sequential([
        keras.Input((num_features,)), keras.layers.Dense(1, activation="sigmoid"), poison,
    ])
    return model, poison


@pytest.mark.parametrize("path", ["compiled", "validation_data"])
def test_nan_predictions_raise_and_write_nothing_for_that_epoch(tmp_path, breast_cancer, path):
    (x_train, y_train), (x_val, y_val) = breast_cancer
    model, poison = _poisoned_model(x_train.shape[1])
    compiled = path == "compiled"
    model.compile(optimizer="sgd", loss="binary_crossentropy",
                  metrics=[tbm.ThresholdCurves(), tbm.ConfusionMatrix()] if compiled else [])
    ours = tbm.MetricsCallback(tmp_path, None if compiled else (x_val, y_val))
    # Runs after ours: epoch 0 is clean, from epoch 1 on the model outputs NaN.
    poison_later = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: poison.poisoned.assign(1.0))
    fit_kwargs = {"validation_data": (x_val, y_val)} if compiled else {}
    with pytest.raises(ValueError, match="NaN"):
        model.fit(x_train[:64], y_train[:64], epochs=3, verbose=0, callbacks=[ours, poison_later], **fit_kwargs)
    assert np.isnan(model.predict(x_val[:4], verbose=0)).all()
    written = read_run(tmp_path / "validation")
    assert sorted(written["threshold_curves"]) == sorted(written["confusion_matrix"]) == [0]
    if compiled:
        assert sorted(read_run(tmp_path / "train")["threshold_curves"]) == [0]
