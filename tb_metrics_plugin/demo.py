"""A runnable demo: trains five small Keras models and logs their threshold metrics for TensorBoard.

    python -m tb_metrics_plugin.demo --logdir /tmp/tb_demo [--epochs 10] [--serve] [--port 6006]

Every task writes Keras' own scalars (`keras.callbacks.TensorBoard`) and our threshold curves and
confusion matrices (`tb_metrics_plugin.MetricsCallback`) to `<logdir>/<task>/{train,validation}`:

* `binary`: breast-cancer data (shipped with scikit-learn), one sigmoid output; compiled metrics.
* `multiclass`: 8×8 digits, 10-way softmax with integer labels; compiled metrics.
* `multilabel`: the same digits with three yes/no labels ("even", "greater than 4", "prime") and
  three sigmoid outputs; counted from `validation_data=` by the callback (a second predict pass).
* `segmentation`: synthetic 16×16 images of squares, discs and crosses on a background, a border
  labelled with an ignore class, a small conv net with per-pixel softmax; compiled metrics.
* `sliced`: breast cancer again, sliced by tumour texture (the "mean texture" feature binned into
  tertiles: low, medium, high). The training labels of the high-texture third are 30 % flipped, as
  if a less careful annotator had labelled them, so the model's errors differ across the slices;
  counted from `validation_data=` with `slices={"texture": ...}` (one summary per slice).

Nothing is downloaded, seeds are fixed, and the whole demo takes a few seconds per task on a CPU.
With `--serve` it then starts TensorBoard on the log directory and blocks until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported, via Keras

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits  # noqa: E402

import tb_metrics_plugin as tbm  # noqa: E402

SEED = 0
DEFAULT_EPOCHS = 10
VALIDATION_SHARE = 0.3
SEGMENTATION_SIZE = 16
SEGMENTATION_IMAGES = 320
# Label of the border pixels in the segmentation task: counted by neither the loss nor our metrics.
SEGMENTATION_IGNORE_CLASS = 255
SEGMENTATION_CLASS_NAMES = ("background", "square", "disc", "cross")
DIGIT_NAMES = tuple(str(digit) for digit in range(10))
MULTILABEL_NAMES = ("even", "greater than 4", "prime")
TEXTURE_GROUPS = ("low", "medium", "high")
# Share of the high-texture group's training labels flipped in the `sliced` task.
SLICED_LABEL_NOISE = 0.3
PRIME_DIGITS = (2, 3, 5, 7)


@dataclass(frozen=True)
class Split:
    """Training and validation arrays of one task."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


# Data --------------------------------------------------------------------------------------------


def _split(features: np.ndarray, labels: np.ndarray) -> Split:
    """Shuffles with the fixed seed and holds out `VALIDATION_SHARE` of the samples."""
    order = np.random.default_rng(SEED).permutation(len(labels))
    features, labels = features[order], labels[order]
    num_val = int(len(labels) * VALIDATION_SHARE)
    return Split(features[num_val:], labels[num_val:], features[:num_val], labels[:num_val])


def _standardised(features: np.ndarray) -> np.ndarray:
    return ((features - features.mean(0)) / (features.std(0) + 1e-8)).astype("float32")


def breast_cancer_data() -> Split:
    """Breast-cancer features (standardised) and 0/1 labels (1 = benign)."""
    features, labels = load_breast_cancer(return_X_y=True)
    return _split(_standardised(features), labels.astype("float32"))


def texture_sliced_data() -> tuple[Split, np.ndarray, np.ndarray]:
    """Breast cancer (as `breast_cancer_data`) with each sample's texture group: (split, training
    groups, validation groups), the groups being tertiles of "mean texture" over all samples."""
    dataset = load_breast_cancer()
    texture = dataset.data[:, list(dataset.feature_names).index("mean texture")]
    groups = np.array(TEXTURE_GROUPS)[np.digitize(texture, np.quantile(texture, [1 / 3, 2 / 3]))]
    split = _split(_standardised(dataset.data), dataset.target.astype("float32"))
    held_out = _split(groups[:, None], groups)
    return split, held_out.y_train, held_out.y_val


def digits_data() -> Split:
    """8×8 digit images flattened to 64 features in [0, 1], and integer labels 0–9."""
    features, labels = load_digits(return_X_y=True)
    return _split((features / 16.0).astype("float32"), labels.astype("int32"))


def multilabel_from_digits(digits: np.ndarray) -> np.ndarray:
    """(N, 3) 0/1 labels: the digit is even, greater than 4, prime."""
    return np.stack(
        [digits % 2 == 0, digits > 4, np.isin(digits, PRIME_DIGITS)], axis=1
    ).astype("float32")


def multilabel_data() -> Split:
    """Digits with the three yes/no labels of `multilabel_from_digits`."""
    digits = digits_data()
    return Split(
        digits.x_train, multilabel_from_digits(digits.y_train),
        digits.x_val, multilabel_from_digits(digits.y_val),
    )


def _draw_shape(image: np.ndarray, mask: np.ndarray, shape_class: int, rng: np.random.Generator) -> None:
    """Paints one square, disc or cross of random size and place into `image` and `mask`."""
    size = SEGMENTATION_SIZE
    radius = int(rng.integers(2, 4))
    row, col = (int(v) for v in rng.integers(radius + 1, size - radius - 1, size=2))
    rows, cols = np.ogrid[:size, :size]
    if shape_class == 1:
        inside = (np.abs(rows - row) <= radius) & (np.abs(cols - col) <= radius)
    elif shape_class == 2:
        inside = (rows - row) ** 2 + (cols - col) ** 2 <= radius**2
    else:
        inside = ((np.abs(rows - row) <= radius) & (cols == col)) | ((rows == row) & (np.abs(cols - col) <= radius))
    image[inside] = 1.0
    mask[inside] = shape_class


def segmentation_data(num_images: int = SEGMENTATION_IMAGES) -> Split:
    """Noisy 16×16 one-channel images with 1–3 shapes each and per-pixel labels.

    The outermost pixel ring is labelled `SEGMENTATION_IGNORE_CLASS` ("void").
    """
    rng = np.random.default_rng(SEED)
    images = np.zeros((num_images, SEGMENTATION_SIZE, SEGMENTATION_SIZE), dtype="float32")
    masks = np.zeros(images.shape, dtype="int32")
    for image, mask in zip(images, masks, strict=True):
        for shape_class in rng.integers(1, len(SEGMENTATION_CLASS_NAMES), size=int(rng.integers(1, 4))):
            _draw_shape(image, mask, int(shape_class), rng)
    images += rng.normal(0.0, 0.2, size=images.shape).astype("float32")
    masks[:, [0, -1], :] = SEGMENTATION_IGNORE_CLASS
    masks[:, :, [0, -1]] = SEGMENTATION_IGNORE_CLASS
    return _split(images[..., None], masks)


# Models ------------------------------------------------------------------------------------------


def dense_model(num_features: int, num_outputs: int, activation: str, hidden_units: int = 32) -> keras.Model:
    """A one-hidden-layer perceptron."""
    return keras.Sequential([
        keras.Input((num_features,)),
        keras.layers.Dense(hidden_units, activation="relu"),
        keras.layers.Dense(num_outputs, activation=activation),
    ])


def segmentation_model(num_classes: int) -> keras.Model:
    """Three 3×3 convolutions and a per-pixel softmax; keeps the 16×16 resolution."""
    return keras.Sequential([
        keras.Input((SEGMENTATION_SIZE, SEGMENTATION_SIZE, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(num_classes, 1, activation="softmax"),
    ])


# Tasks -------------------------------------------------------------------------------------------


def _fit(model: keras.Model, data: Split, task_dir: str, epochs: int, metrics_callback, batch_size: int) -> None:
    model.fit(
        data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=epochs,
        batch_size=batch_size, verbose=0,
        callbacks=[keras.callbacks.TensorBoard(task_dir), metrics_callback],
    )


def train_binary(task_dir: str, epochs: int) -> None:
    """Breast cancer, one sigmoid output, metrics compiled into the model."""
    data = breast_cancer_data()
    class_names = ["malignant", "benign"]
    model = dense_model(data.x_train.shape[1], 1, "sigmoid")
    model.compile(
        optimizer="adam", loss="binary_crossentropy",
        metrics=["accuracy", tbm.ThresholdCurves(class_names=class_names, confusion_matrix=True)],
    )
    _fit(model, data, task_dir, epochs, tbm.MetricsCallback(task_dir, class_names=class_names), batch_size=32)


def train_multiclass(task_dir: str, epochs: int) -> None:
    """Digits, 10-way softmax with integer labels, metrics compiled into the model."""
    data = digits_data()
    model = dense_model(data.x_train.shape[1], len(DIGIT_NAMES), "softmax")
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy",
        metrics=["accuracy", tbm.ThresholdCurves(confusion_matrix=True)],
    )
    _fit(model, data, task_dir, epochs, tbm.MetricsCallback(task_dir, class_names=DIGIT_NAMES), batch_size=64)


def train_multilabel(task_dir: str, epochs: int) -> None:
    """Digits with three yes/no labels; the callback counts from `validation_data` itself."""
    data = multilabel_data()
    model = dense_model(data.x_train.shape[1], len(MULTILABEL_NAMES), "sigmoid")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["binary_accuracy"])
    callback = tbm.MetricsCallback(
        task_dir, validation_data=(data.x_val, data.y_val), class_names=MULTILABEL_NAMES,
        multi_label=True, batch_size=256,
    )
    _fit(model, data, task_dir, epochs, callback, batch_size=64)


def train_segmentation(task_dir: str, epochs: int) -> None:
    """Synthetic shapes, per-pixel softmax, border pixels ignored by the loss and the metrics."""
    data = segmentation_data()
    num_classes = len(SEGMENTATION_CLASS_NAMES)
    model = segmentation_model(num_classes)
    ignore = SEGMENTATION_IGNORE_CLASS
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=ignore),
        metrics=[tbm.ThresholdCurves(ignore_class=ignore, confusion_matrix=True)],
    )
    callback = tbm.MetricsCallback(task_dir, class_names=SEGMENTATION_CLASS_NAMES)
    _fit(model, data, task_dir, epochs, callback, batch_size=32)


def train_sliced(task_dir: str, epochs: int) -> None:
    """Breast cancer with noisy labels in one texture group; every epoch logged per texture slice."""
    data, train_groups, val_groups = texture_sliced_data()
    rng = np.random.default_rng(SEED)
    flipped = (train_groups == "high") & (rng.random(len(train_groups)) < SLICED_LABEL_NOISE)
    noisy = Split(data.x_train, np.where(flipped, 1 - data.y_train, data.y_train), data.x_val, data.y_val)
    class_names = ["malignant", "benign"]
    model = dense_model(data.x_train.shape[1], 1, "sigmoid")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    callback = tbm.MetricsCallback(
        task_dir, validation_data=(data.x_val, data.y_val), class_names=class_names,
        slices={"texture": val_groups}, batch_size=256,
    )
    _fit(model, noisy, task_dir, epochs, callback, batch_size=32)


TASKS: dict[str, Callable[[str, int], None]] = {
    "binary": train_binary,
    "multiclass": train_multiclass,
    "multilabel": train_multilabel,
    "segmentation": train_segmentation,
    "sliced": train_sliced,
}


def run_tasks(logdir: str, epochs: int, task_names: Sequence[str] = tuple(TASKS)) -> dict[str, float]:
    """Trains each task into `<logdir>/<task>`; returns the seconds each one took."""
    seconds_by_task = {}
    for task_name in task_names:
        keras.utils.set_random_seed(SEED)
        started = time.perf_counter()
        TASKS[task_name](os.path.join(logdir, task_name), epochs)
        seconds_by_task[task_name] = time.perf_counter() - started
        print(f"  {task_name:<13} {seconds_by_task[task_name]:5.1f} s", flush=True)
    return seconds_by_task


# Command line ------------------------------------------------------------------------------------


def serve(logdir: str, port: int, host: str, load_fast: str) -> int:
    """Runs TensorBoard on `logdir` in this process until Ctrl-C; returns its exit code."""
    from tensorboard import program

    board = program.TensorBoard()
    board.configure(argv=[None, "--logdir", logdir, "--port", str(port), "--host", host, "--load_fast", load_fast])
    return board.main()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tb_metrics_plugin.demo", description=__doc__.splitlines()[0],
    )
    parser.add_argument("--logdir", required=True, help="folder to write the runs to (one subfolder per task)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="epochs per task (default: %(default)s)")
    parser.add_argument("--tasks", nargs="+", choices=tuple(TASKS), default=tuple(TASKS), help="tasks to train")
    parser.add_argument("--serve", action="store_true", help="then start TensorBoard on the logdir")
    parser.add_argument("--port", type=int, default=6006, help="TensorBoard port with --serve")
    parser.add_argument("--host", default="localhost", help="TensorBoard host with --serve (0.0.0.0: all)")
    parser.add_argument(
        "--load_fast", choices=("auto", "true", "false"), default="auto",
        help="TensorBoard's loader with --serve: Rust data server (true) or Python (false)",
    )
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs={args.epochs} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Trains the demo tasks, prints where the logs are, and optionally serves them."""
    args = parse_args(argv)
    logdir = os.path.abspath(args.logdir)
    print(f"Training {len(args.tasks)} tasks for {args.epochs} epochs each into {logdir}", flush=True)
    seconds_by_task = run_tasks(logdir, args.epochs, args.tasks)
    print(f"Done in {sum(seconds_by_task.values()):.1f} s. View the logs with:\n  tensorboard --logdir {logdir}")
    if not args.serve:
        return 0
    print(f"Starting TensorBoard at http://{args.host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    return serve(logdir, args.port, args.host, args.load_fast)


if __name__ == "__main__":
    sys.exit(main())
