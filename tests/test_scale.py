"""Scale: the writers' memory is O(C·T) plus the input, never O(N·T); 1000 classes × 10,000
thresholds are counted exactly; 10,000 thresholds go end to end through both TensorBoard loaders.

Peak memory is measured with `tracemalloc`, which traces numpy's array buffers as well as Python
objects (numpy reports its data allocations to it). TensorFlow's own buffers are not traced, so the
Keras metrics are checked by the size of their state. A run/tag over 2 GiB is served through the
Rust data server from a sample, never with a 5xx. Serving 1000 classes × 1000 epochs is a
benchmark (`benchmarks/bench_scale.py`, figures in docs/benchmarks.md), not a test.
"""

from __future__ import annotations

import shutil
import time
import tracemalloc

import numpy as np
import pytest

from tb_metrics_plugin import counting, metadata, summary, wire
from tb_metrics_plugin.writer import SummaryWriter
from tests.conftest import InProcessTensorBoard
from tests.readback import assert_same_curves, assert_served_step, decode_summary, read_run, reference_curves

pytestmark = pytest.mark.slow  # gigabyte logs, 10,000 thresholds through both loaders

PREFIX = f"/data/plugin/{metadata.PLUGIN_NAME}"
MIB = 2**20
TEN_THOUSAND_THRESHOLDS = np.linspace(0.0, 1.0, 10_000, dtype=np.float32)
# Bytes of one (class, bin) cell of a float64 histogram.
CELL_BYTES = 8
# The writer holds a few whole copies of the C·(T+1) histogram at once (int64 counts, float64
# conversions, the stacked tensor and its float32 form): 7.25 copies measured at C = 1000,
# T = 10,000. Ten copies leave room; a bool N·C × T one-hot of the 200 items of that case would
# alone be 2.5× this bound, and the growth check below allows only copies of the extra input.
HISTOGRAM_COPIES = 10
# Per-chunk memory of `counting.threshold_histograms`, independent of N: float32 work, int32 bins
# and intp index buffers (16 bytes an item), plus a chunk's np.bincount histogram (never larger
# than the chunk) or repeated weights (8), a bool mask and the positives: 24-32 bytes an item
# measured.
CHUNK_BYTES = counting._CHUNK_ITEMS * 32
# Histograms' worth of memory the v2 encoder may use for the non-empty cells (index, step, two
# counts and their concatenation: 8 bytes each per cell, against one float64 histogram cell).
ENCODED_CELL_COPIES = 6
# Copies of the input the writer may make (float32 scores, the bool one-hot of integer labels).
INPUT_COPIES = 3
# Thresholds and classes checked against a brute-force count (the rest is the same code path).
SLICE_THRESHOLDS = [0, 1, 2, 1234, 4999, 5000, 7777, 9997, 9998, 9999]
SLICE_CLASSES = [0, 1, 2, 499, 998, 999]


def traced_peak(function) -> tuple[int, object]:
    """(peak bytes allocated above the starting level while `function()` ran, its result)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        result = function()
        return tracemalloc.get_traced_memory()[1] - start, result
    finally:
        tracemalloc.stop()


def random_inputs(num_items: int, num_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and float32 scores in [0, 1]; binary (C = 1) gives one score per item.

    Every 37th score is set to a threshold exactly, where `score > t` and `score >= t` differ.
    """
    rng = np.random.default_rng(seed)
    if num_classes == 1:
        labels, scores = rng.integers(0, 2, num_items), rng.random(num_items, dtype=np.float32)
    else:
        labels, scores = rng.integers(0, num_classes, num_items), rng.random((num_items, num_classes), dtype=np.float32)
    on_threshold = scores.reshape(-1)[::37]
    on_threshold[:] = TEN_THOUSAND_THRESHOLDS[rng.integers(0, len(TEN_THOUSAND_THRESHOLDS), on_threshold.size)]
    return labels, scores


def brute_force_tp_fp(labels, scores, thresholds, classes, threshold_indices) -> tuple[np.ndarray, np.ndarray]:
    """TP and FP of `score > t` by direct comparison, for some classes and thresholds.

    Binary input (1-D scores) has one curve, for the positive class (label 1).
    """
    if scores.ndim == 1:
        scores, positives, classes = scores[:, None], (labels == 1)[:, None], [0]
    else:
        positives = labels[:, None] == np.arange(scores.shape[1])
    tp = np.empty((len(classes), len(threshold_indices)))
    fp = np.empty_like(tp)
    for row, c in enumerate(classes):
        positive = positives[:, c]
        for column, j in enumerate(threshold_indices):
            predicted = scores[:, c] > thresholds[j]
            tp[row, column] = np.sum(predicted & positive)
            fp[row, column] = np.sum(predicted & ~positive)
    return tp, fp


def tp_fp_from_histograms(positive_histograms, negative_histograms, classes, threshold_indices):
    """TP[c, j] = Σ_{k>j} positive[c, k], FP likewise (docs/format.md), for some classes and thresholds."""
    tp = np.cumsum(positive_histograms[:, ::-1], axis=1)[:, ::-1]
    fp = np.cumsum(negative_histograms[:, ::-1], axis=1)[:, ::-1]
    columns = np.asarray(threshold_indices) + 1
    return tp[np.ix_(classes, columns)], fp[np.ix_(classes, columns)]


def assert_slice_exact(positive_histograms, negative_histograms, labels, scores, thresholds) -> None:
    classes = [c for c in SLICE_CLASSES if c < positive_histograms.shape[0]]
    actual = tp_fp_from_histograms(positive_histograms, negative_histograms, classes, SLICE_THRESHOLDS)
    expected = brute_force_tp_fp(labels, scores, thresholds, classes, SLICE_THRESHOLDS)
    np.testing.assert_array_equal(actual[0], expected[0])
    np.testing.assert_array_equal(actual[1], expected[1])


# (a) the writers' memory ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "num_classes, num_items",
    [(1, 100_000), (100, 2_000), (1000, 20)],
    ids=["binary", "100-classes", "1000-classes"],
)
def test_threshold_curves_pb_peak_memory_is_the_histogram_plus_the_input_as_n_grows_tenfold(num_classes, num_items):
    thresholds = TEN_THOUSAND_THRESHOLDS
    summary.threshold_curves_pb("warm", [0, 1], [0.2, 0.7], thresholds=thresholds)  # builds the cached bin table
    histogram_bytes = num_classes * (len(thresholds) + 1) * CELL_BYTES
    peaks = {}
    for items in (num_items, 10 * num_items):
        labels, scores = random_inputs(items, num_classes, seed=items)
        input_bytes = labels.nbytes + scores.nbytes
        peak, pb = traced_peak(
            lambda labels=labels, scores=scores: summary.threshold_curves_pb(
                "curves", labels, scores, thresholds=thresholds, exact=False))  # the grid path's memory
        peaks[items] = (peak, input_bytes)
        assert peak <= INPUT_COPIES * input_bytes + HISTOGRAM_COPIES * histogram_bytes + CHUNK_BYTES, (
            f"N={items}, C={num_classes}, T={len(thresholds)}: peak {peak / MIB:.1f} MiB for an input of "
            f"{input_bytes / MIB:.2f} MiB and a {histogram_bytes / MIB:.1f} MiB histogram"
        )
        counts = decode_summary(pb)
        assert counts.positive_histograms.shape == (num_classes, len(thresholds) + 1)
        assert_slice_exact(counts.positive_histograms, counts.negative_histograms, labels, scores, thresholds)
        assert counts.positive_histograms.sum() + counts.negative_histograms.sum() == scores.size
        del pb, counts
    (small_peak, small_input), (large_peak, large_input) = peaks[num_items], peaks[10 * num_items]
    # Ten times the items may add copies of the extra input, never a multiple of N·T. Format v2 also
    # encodes only the cells that hold weight, and more items fill more of them: that work is bounded
    # by the histogram (at most C·(T + 1) cells, ENCODED_CELL_COPIES histograms' worth), not by N.
    assert large_peak - small_peak <= (INPUT_COPIES * (large_input - small_input) + CHUNK_BYTES
                                       + ENCODED_CELL_COPIES * histogram_bytes), peaks


@pytest.mark.parametrize("num_items", [1_000, 10_000, 100_000])
def test_confusion_matrix_pb_peak_memory_is_the_matrix_plus_the_input_at_1000_classes(num_items):
    num_classes = 1000
    labels, scores = random_inputs(num_items, num_classes, seed=num_items)
    input_bytes = labels.nbytes + scores.nbytes
    matrix_bytes = num_classes * num_classes * CELL_BYTES
    peak, pb = traced_peak(lambda: summary.confusion_matrix_pb("matrix", labels, scores))
    # Measured: 22 MB at N = 1000 (2.3 matrices + the input), 122 MB at N = 100,000 (0.3 input).
    assert peak <= INPUT_COPIES * input_bytes + 4 * matrix_bytes, (num_items, peak, input_bytes)
    matrix = decode_summary(pb).matrix
    predicted = scores.argmax(axis=1)
    for true_class in SLICE_CLASSES:
        for predicted_class in SLICE_CLASSES:
            expected = np.sum((labels == true_class) & (predicted == predicted_class))
            assert matrix[true_class, predicted_class] == expected
    assert matrix.sum() == num_items
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=num_classes))


def test_keras_metric_state_is_c_by_t_whatever_the_batch_size():
    import keras

    import tb_metrics_plugin as tbm

    num_classes = 1000
    curves = tbm.ThresholdCurves(thresholds=TEN_THOUSAND_THRESHOLDS)
    matrix = tbm.ConfusionMatrix()
    all_labels, all_scores = [], []
    for batch_items in (8, 80):  # ten times the batch: the state must not change size
        labels, scores = random_inputs(batch_items, num_classes, seed=batch_items)
        curves.update_state(labels, scores)
        matrix.update_state(labels, scores)
        all_labels.append(labels)
        all_scores.append(scores)
        state_bytes = {
            variable.path: int(np.prod(variable.shape)) * np.dtype(variable.dtype).itemsize
            for variable in [*curves.variables, *matrix.variables]
        }
        # Histograms: 10,001 bins a class, padded to whole blocks of 31 (10,013 cells), and 4
        # tallies; the raw record: 2^20 scores / 1000 columns = 1048 items of 1000 scores, a label
        # and a weight, plus a spare row; the matrix and its invalid-item cell; a skip level each.
        histogram_cells = -(-(len(TEN_THOUSAND_THRESHOLDS) + 1) // 31) * 31
        raw_items = ((1 << 20) // num_classes + 1) * (num_classes + 2)
        assert sum(state_bytes.values()) == (
            (2 * num_classes * histogram_cells + 4) * 4 + raw_items * 4 + (num_classes * num_classes + 1) * 4 + 2 * 4
        ), state_bytes
    labels, scores = np.concatenate(all_labels), np.concatenate(all_scores)
    positive, negative = curves.histogram_values()
    assert_slice_exact(positive, negative, labels, scores, TEN_THOUSAND_THRESHOLDS)
    expected_matrix = np.zeros((num_classes, num_classes))
    np.add.at(expected_matrix, (labels, scores.argmax(axis=1)), 1)
    np.testing.assert_array_equal(matrix.matrix_values(), expected_matrix)
    keras.backend.clear_session()


# (b) 10,000 thresholds end to end ------------------------------------------------------------------


@pytest.fixture(scope="module")
def ten_thousand_threshold_logs(tmp_path_factory):
    """`numpy/validation`: 3 steps of a 5-class threshold_curves tag on 10,000 explicit thresholds,
    written with `SummaryWriter`; `keras/validation`: 2 epochs of a real binary Keras fit logged by
    `MetricsCallback(thresholds=...)` on the same grid. Returns (logdir, {run: {step: (labels, scores)}})."""
    import keras

    import tb_metrics_plugin as tbm

    logdir = tmp_path_factory.mktemp("ten_thousand") / "logs"
    inputs = {"numpy/validation": {}}
    with SummaryWriter(logdir / "numpy" / "validation") as writer:
        for step in range(3):
            labels, scores = random_inputs(400, 5, seed=100 + step)
            inputs["numpy/validation"][step] = (labels, scores)
            pb = summary.threshold_curves_pb(
                "threshold_curves", labels, scores, thresholds=TEN_THOUSAND_THRESHOLDS, exact=False)
            writer.add_summary(pb, step=step)

    rng = np.random.default_rng(5)
    features = rng.normal(size=(300, 4)).astype("float32")
    targets = (features[:, 0] + 0.5 * rng.normal(size=300) > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    x_val, y_val = features[200:], targets[200:]
    model.fit(features[:200], targets[:200], epochs=2, verbose=0, callbacks=[
        tbm.MetricsCallback(logdir / "keras", validation_data=(x_val, y_val), thresholds=TEN_THOUSAND_THRESHOLDS)])
    inputs["keras/validation"] = {1: (y_val, model.predict(x_val, verbose=0)[:, 0])}
    return logdir, inputs


@pytest.mark.parametrize("load_fast", [False, True], ids=["python_loader", "rust_loader"])
def test_ten_thousand_thresholds_are_written_listed_and_served_exactly(ten_thousand_threshold_logs, load_fast):
    logdir, inputs = ten_thousand_threshold_logs
    written = {run: read_run(logdir / run)["threshold_curves"] for run in inputs}
    for run, steps in inputs.items():  # written: the event files hold the reference counts
        for step, (labels, scores) in steps.items():
            assert_same_curves(written[run][step], reference_curves(
                labels, scores, thresholds=TEN_THOUSAND_THRESHOLDS, exact=run != "numpy/validation"))
    board = InProcessTensorBoard(logdir, load_fast=load_fast)
    try:
        deadline = time.monotonic() + 60
        while True:  # the Rust data server loads in the background
            listing = board.client.get(f"{PREFIX}/tags").get_json()
            if all(listing.get(run, {}).get("threshold_curves", {}).get("num_steps") == len(written[run])
                   for run in inputs):
                break
            assert time.monotonic() < deadline, f"not loaded in 60 s: {listing}"
            time.sleep(0.3)
        for run in inputs:
            entry = listing[run]["threshold_curves"]
            assert entry["steps"] == sorted(written[run]) and "sampled" not in entry
            response = board.client.get(f"{PREFIX}/counts", query_string={"run": run, "tag": "threshold_curves"})
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            answer = response.get_json()
            assert answer["steps"] == sorted(written[run])
            served_thresholds = wire.decode_array(answer["thresholds"])
            if run == "numpy/validation":  # the grid, asked for explicitly
                assert served_thresholds.shape == (len(written[run]), 10_000)
                for position in range(len(written[run])):
                    np.testing.assert_array_equal(served_thresholds[position], TEN_THOUSAND_THRESHOLDS)
            for position, step in enumerate(answer["steps"]):
                assert_served_step(answer, position, written[run][step])
            last = max(written[run])
            one_step = board.client.get(f"{PREFIX}/counts", query_string={
                "run": run, "tag": "threshold_curves", "step": str(last)}).get_json()
            np.testing.assert_array_equal(wire.decode_array(one_step["positive"])[0],
                                          written[run][last].positive_histograms)
            summary_response = board.client.get(
                f"{PREFIX}/summary", query_string={"run": run, "tag": "threshold_curves"})
            assert summary_response.status_code == 200
            assert len(summary_response.get_json()["series"]["roc_auc"]["macro"]) == len(written[run])
    finally:
        board.close()


# (c) a run/tag over 2 GiB through the Rust data server -------------------------------------------------


@pytest.fixture(scope="module")
def over_two_gib_board(tmp_path_factory):
    """The Rust loader over one run of 56 confusion matrices of 3162 classes (40 MB each, 2.24 GB in
    all), written with TensorFlow's native event writer (fast at this size). Step s has s + 1 in
    row 0, so each step is recognisable. A whole read of this run is over 2 GiB, where the data server
    cancels the stream instead of refusing the reply with RESOURCE_EXHAUSTED."""
    import tensorflow as tf

    num_classes, num_steps = 3162, 56
    logdir = tmp_path_factory.mktemp("over_two_gib")
    names = tuple(str(c) for c in range(num_classes))
    # Format version 1 (dense float32 matrices): version 2 stores only the non-zero cells, which makes
    # a log this large hard to reach; old logs still are.
    content = metadata.create_summary_metadata(metadata.PluginData(metadata.KIND_CONFUSION_MATRIX, names, version=1))
    matrix = np.zeros((num_classes, num_classes), dtype=np.float32)
    with tf.summary.create_file_writer(str(logdir / "big")).as_default():
        for step in range(num_steps):
            matrix[0] = step + 1
            tf.summary.write("confusion_matrix", matrix, step=step, metadata=content.SerializeToString())
    del matrix
    board = InProcessTensorBoard(logdir, load_fast=True)
    try:
        from tensorboard.context import RequestContext

        from tb_metrics_plugin import reading

        deadline = time.monotonic() + 180
        while True:
            listing = reading.list_series(board.data_provider, RequestContext(), "")
            if "big" in listing and listing["big"]["confusion_matrix"].max_step == num_steps - 1:
                break
            assert time.monotonic() < deadline, "2.24 GB of logs not loaded in 180 s"
            time.sleep(0.5)
        yield board, num_steps
    finally:
        board.close()
        shutil.rmtree(logdir, ignore_errors=True)  # 2.24 GB that pytest would otherwise keep


def test_a_run_over_two_gib_is_served_from_a_sample_not_a_500(over_two_gib_board):
    board, num_steps = over_two_gib_board
    listing = board.client.get(f"{PREFIX}/tags")
    assert listing.status_code == 200, listing.get_data(as_text=True)[:300]
    entry = listing.get_json()["big"]["confusion_matrix"]
    assert entry["sampled"] is True and "--load_fast=false" in entry["warning"]
    assert 1 <= entry["num_steps"] < num_steps and entry["steps"][-1] == num_steps - 1
    last = board.client.get(f"{PREFIX}/counts", query_string={
        "run": "big", "tag": "confusion_matrix", "step": str(num_steps - 1)})
    assert last.status_code == 200, last.get_data(as_text=True)[:300]
    assert len(last.get_data()) < 256 * MIB  # 40 MB of float32 as base64: 53 MB
    served = wire.decode_array(last.get_json()["matrix"])
    assert served.shape == (1, 3162, 3162) and np.all(served[0, 0] == num_steps) and served[0, 1:].sum() == 0
    missing = next(step for step in range(num_steps) if step not in entry["steps"])
    for query in ({"step": str(missing)}, {}):
        response = board.client.get(f"{PREFIX}/counts", query_string={"run": "big", "tag": "confusion_matrix", **query})
        assert response.status_code == 413, response.get_data(as_text=True)[:300]
        assert "256 MiB" in response.get_json()["error"]
    # (summary and export of the whole run take the same path as counts without step)


# (d) every epoch on both loaders: 1000 epochs × 100 classes × 10,000 samples ---------------------------


@pytest.fixture(scope="module")
def thousand_epochs_logdir(tmp_path_factory):
    """1000 epochs of a 100-class model on 10,000 validation samples (ten distinct epochs, repeated):
    27 MB of version-2 event files, where version 1 wrote 772 MB and the Rust data server could
    serve only a sample of 347 epochs."""
    logdir = tmp_path_factory.mktemp("thousand_epochs")
    protos = []
    for epoch in range(10):
        rng = np.random.default_rng(epoch)
        labels = rng.integers(0, 100, 10_000)
        logits = rng.normal(size=(10_000, 100)) * 1.5
        logits[np.arange(10_000), labels] += 1.0 + 0.3 * epoch
        scores = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = scores / scores.sum(axis=1, keepdims=True)
        protos.append(summary.threshold_curves_pb("threshold_curves", labels, probabilities))
    with SummaryWriter(logdir / "run") as writer:
        for step in range(1000):
            writer.add_summary(protos[step % 10], step=step)
    yield logdir, [decode_summary(proto) for proto in protos]
    shutil.rmtree(logdir, ignore_errors=True)


def test_a_thousand_epochs_of_100_classes_are_listed_whole_and_every_step_opens(thousand_epochs_logdir, load_fast):
    logdir, decoded = thousand_epochs_logdir
    board = InProcessTensorBoard(logdir, load_fast=load_fast)
    try:
        deadline = time.monotonic() + 300
        while True:
            listing = board.client.get(f"{PREFIX}/tags").get_json()
            entry = listing.get("run", {}).get("threshold_curves", {})
            if entry.get("num_steps") == 1000:
                break
            assert time.monotonic() < deadline, f"1000 steps not listed in 300 s: {str(entry)[:300]}"
            time.sleep(1)
        assert entry["steps"] == list(range(1000)) and "sampled" not in entry and "warning" not in entry
        # The whole run fits one data-server reply: every step can be read.
        whole = board.client.get(f"{PREFIX}/counts", query_string={"run": "run", "tag": "threshold_curves"})
        assert whole.status_code == 200
        assert whole.get_json()["steps"] == list(range(1000))
        for step in (0, 1, 499, 998, 999):
            answer = board.client.get(f"{PREFIX}/counts", query_string={
                "run": "run", "tag": "threshold_curves", "step": str(step)}).get_json()
            assert_served_step(answer, 0, decoded[step % 10])
        series = board.client.get(f"{PREFIX}/summary", query_string={"run": "run", "tag": "threshold_curves"})
        assert series.status_code == 200 and len(series.get_json()["series"]["roc_auc"]["macro"]) == 1000
    finally:
        board.close()
