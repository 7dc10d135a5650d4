"""Event files written by the numpy writer, the TF summary ops and a TensorFlow-free process, read back
with TensorBoard's own loader."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors as tf_errors
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow as reference_crc
from tensorboard.util import tensor_util

from tb_metrics_plugin import SummaryWriter, core, crc32c, layout, metadata, summary

F32 = np.float32


def read_back(logdir):
    """{tag: {step: (PluginData, decoded counts, ndarray)}} of every tensor tag under `logdir`."""
    accumulator = event_accumulator.EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    accumulator.Reload()
    out = {}
    for tag in accumulator.Tags()["tensors"]:
        content = accumulator.SummaryMetadata(tag).plugin_data.content
        assert accumulator.SummaryMetadata(tag).plugin_data.plugin_name == metadata.PLUGIN_NAME
        plugin_data = metadata.parse_plugin_metadata(content)
        out[tag] = {}
        for event in accumulator.Tensors(tag):
            tensor = tensor_util.make_ndarray(event.tensor_proto)
            assert event.step not in out[tag], "one event per step"
            out[tag][event.step] = (plugin_data, layout.decode(tensor, plugin_data), tensor)
    return out


def decode_pb(summary_proto):
    (value,) = summary_proto.value
    plugin_data = metadata.parse_plugin_metadata(value.metadata.plugin_data.content)
    tensor = tensor_util.make_ndarray(value.tensor)
    return plugin_data, layout.decode(tensor, plugin_data), tensor


def assert_same_counts(a, b):
    """Two decoded summaries of the same kind hold identical counts (values, not dtype)."""
    if isinstance(a, layout.ThresholdCurveCounts):
        assert np.array_equal(a.thresholds, b.thresholds)
        assert np.array_equal(a.positive_histograms, b.positive_histograms)
        assert np.array_equal(a.negative_histograms, b.negative_histograms)
    else:
        assert np.array_equal(a.matrix, b.matrix)
        assert a.ignore_class == b.ignore_class
    assert a.class_names == b.class_names


def _batch(seed, n=500, c=3, weighted=False):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    probs = rng.dirichlet(np.ones(c), n).astype(F32)
    weights = rng.uniform(0, 2, n) if weighted else None
    return labels, probs, weights


def test_summary_writer_event_file_is_read_by_tensorboard(tmp_path):
    names = ["a", "b", "c"]
    expected = {}
    with SummaryWriter(tmp_path / "run" / "validation") as writer:
        for step in range(3):
            labels, probs, weights = _batch(step, weighted=step == 2)
            curves = summary.threshold_curves_pb("curves", labels, probs, sample_weight=weights, class_names=names)
            cm = summary.confusion_matrix_pb("cm", labels, probs, sample_weight=weights, class_names=names)
            both = type(curves)()
            both.MergeFrom(curves)
            both.MergeFrom(cm)
            writer.add_summary(both, step=step)
            expected[step] = (decode_pb(curves)[1], decode_pb(cm)[1])
    files = os.listdir(tmp_path / "run" / "validation")
    assert len(files) == 1 and files[0].endswith(".tb_metrics")
    logged = read_back(tmp_path / "run" / "validation")
    assert set(logged) == {"curves", "cm"}
    assert sorted(logged["curves"]) == [0, 1, 2]
    for step, (curves, cm) in expected.items():
        plugin_data, decoded, tensor = logged["curves"][step]
        assert plugin_data.kind == metadata.KIND_THRESHOLD_CURVES and plugin_data.version == metadata.FORMAT_VERSION
        assert tensor.dtype == object and decoded.exact.all()  # one blob; 500 scores per class are exact
        assert_same_counts(decoded, curves)
        assert_same_counts(logged["cm"][step][1], cm)
    # And the decoded counts mean what they should.
    labels, probs, _ = _batch(0)
    _, decoded, _ = logged["curves"][0]
    for k in range(3):
        index = core.threshold_index(decoded.per_class_thresholds[k], 0.5, exact=bool(decoded.exact[k]))
        tp, fp, tn, fn = core.counts_at_index(decoded.positive_histograms[k], decoded.negative_histograms[k], index)
        assert tp == np.sum((labels == k) & (probs[:, k] > F32(0.5)))
        assert fp == np.sum((labels != k) & (probs[:, k] > F32(0.5)))
        assert tp + fp + tn + fn == len(labels)


def test_add_summary_rejects_bad_steps(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        pb = summary.confusion_matrix_pb("cm", [0, 1], [0.2, 0.7])
        for bad in (-1, 1.0, True, np.bool_(True), "3", np.float64(2.0), np.int64(-2)):
            with pytest.raises(ValueError, match="step="):
                writer.add_summary(pb, step=bad)
        writer.add_summary(pb, step=4)
        writer.add_summary(pb, step=np.arange(6)[5])  # a numpy integer is an integer
    assert list(read_back(tmp_path)["cm"]) == [4, 5]


# --- Record framing: checksums, flushing, threads ----------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 4, 5, 1023, 1024, 1025, 1031, 4096, 65_537, 300_007])
@pytest.mark.parametrize("content", ["random", "zeros", "ones"])
def test_crc32c_equals_tensorboards_reference(length, content):
    """Lengths around the byte-by-byte limit (1024), lane counts odd and even, and a zero-padded
    front (lengths that are no multiple of the lane size)."""
    data = {
        "random": np.random.default_rng(length).integers(0, 256, length, dtype=np.uint8).tobytes(),
        "zeros": bytes(length),
        "ones": b"\xff" * length,
    }[content]
    assert crc32c.crc32c(data) == reference_crc.crc32c(data)
    assert crc32c.masked_crc32c(data) == reference_crc.masked_crc32c(data)


def test_crc32c_known_value():
    assert crc32c.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c.crc32c(b"123456789" * 200) == reference_crc.crc32c(b"123456789" * 200)


def _records(path):
    """Every record of an event file through TensorBoard's TF-free reader, which checks both CRCs."""
    reader = reference_crc.PyRecordReader_New(str(path))
    records = []
    while True:
        try:
            reader.GetNext()
        except tf_errors.OutOfRangeError:
            return records
        records.append(reader.record())


def test_big_records_carry_checksums_that_tensorboard_and_tensorflow_verify(tmp_path):
    """A 1000-class epoch of weighted grid counts (random float64 weights do not compress: over 7 MB)
    checksummed with numpy is accepted by TensorBoard's reader and TensorFlow's; one flipped byte is
    refused by both."""
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(3)
    labels, scores = rng.integers(0, 2, (1500, 1000)), rng.random((1500, 1000)).astype(F32)
    pb = summary.threshold_curves_pb(
        "curves", labels, scores, sample_weight=rng.random(1500), multi_label=True, exact=False)
    with SummaryWriter(tmp_path / "run") as writer:
        writer.add_summary(pb, step=0)
    (path,) = (tmp_path / "run").iterdir()
    records = _records(path)
    assert len(records) == 2  # the file-version event, then ours
    assert len(records[1]) > 7_000_000
    assert [len(r) for r in tf.compat.v1.io.tf_record_iterator(str(path))] == [len(r) for r in records]
    assert event_pb2.Event.FromString(records[1]).summary == pb
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))
    with pytest.raises(tf_errors.DataLossError, match="crc32"):
        _records(path)
    with pytest.raises(tf.errors.DataLossError):
        list(tf.compat.v1.io.tf_record_iterator(str(path)))


def test_events_reach_the_file_on_flush_and_after_flush_secs(tmp_path):
    pb = summary.confusion_matrix_pb("cm", [0, 1], [0.2, 0.7])
    writer = SummaryWriter(tmp_path / "slow", flush_secs=3600)
    writer.add_summary(pb, step=0)
    assert len(_records(writer.path)) == 1  # only the file-version event, flushed on creation
    writer.flush()
    assert len(_records(writer.path)) == 2
    writer.close()
    eager = SummaryWriter(tmp_path / "eager", flush_secs=0)
    eager.add_summary(pb, step=0)
    assert len(_records(eager.path)) == 2  # flush_secs passed: flushed when added
    eager.close()


def test_closed_writer_refuses_events_and_closes_twice(tmp_path):
    writer = SummaryWriter(tmp_path)
    writer.close()
    writer.close()
    writer.flush()
    with pytest.raises(ValueError, match="is closed; create a new one"):
        writer.add_summary(summary.confusion_matrix_pb("cm", [0, 1], [0.2, 0.7]), step=0)


def test_threads_sharing_a_writer_never_interleave_records(tmp_path):
    pbs = [summary.confusion_matrix_pb(f"cm{k}", [0, 1, 1], [0.2, 0.7, 0.4]) for k in range(4)]
    with SummaryWriter(tmp_path) as writer, ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda k: [writer.add_summary(pbs[k], step=step) for step in range(50)], range(4)))
    logged = read_back(tmp_path)
    assert {tag: sorted(steps) for tag, steps in logged.items()} == {f"cm{k}": list(range(50)) for k in range(4)}


# --- TensorFlow summary ops -----------------------------------------------------------------------


def test_tf_ops_eager_equal_numpy_writer(tmp_path):
    import tensorflow as tf

    labels, probs, weights = _batch(10, weighted=True)
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        assert bool(summary.threshold_curves("curves", labels, probs, step=3, sample_weight=weights))
        assert bool(summary.confusion_matrix("cm", labels, probs, step=3, sample_weight=weights,
                                             class_names=["x", "y", "z"]))
        binary_labels = (labels == 1).astype(np.int64)
        assert bool(summary.threshold_curves("binary", binary_labels, probs[:, 1], step=3, thresholds=[0.2, 0.5]))
    writer.close()
    logged = read_back(tmp_path)
    assert_same_counts(logged["curves"][3][1],
                       decode_pb(summary.threshold_curves_pb("c", labels, probs, sample_weight=weights))[1])
    assert_same_counts(logged["cm"][3][1], decode_pb(summary.confusion_matrix_pb(
        "c", labels, probs, sample_weight=weights, class_names=["x", "y", "z"]))[1])
    binary = logged["binary"][3]
    assert binary[0].class_names == ("positive",)
    assert_same_counts(binary[1], decode_pb(summary.threshold_curves_pb(
        "b", binary_labels, probs[:, 1], thresholds=[0.2, 0.5]))[1])


def test_tf_ops_without_default_writer_return_false():
    import tensorflow as tf

    assert not bool(summary.confusion_matrix("cm", [0, 1], [0.3, 0.8], step=0))
    assert tf.summary.experimental.get_step() is None


def test_tf_ops_inside_tf_function_custom_loop(tmp_path):
    import tensorflow as tf

    num_classes = 3
    steps = 4
    writer = tf.summary.create_file_writer(str(tmp_path))

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.int64), tf.TensorSpec([None, num_classes], tf.float32),
        tf.TensorSpec([None], tf.float64), tf.TensorSpec([], tf.int64),
    ])
    def log_step(labels, logits, weights, step):
        with writer.as_default():
            wrote_curves = summary.threshold_curves(
                "curves", labels, logits, step=step, from_logits=True, sample_weight=weights
            )
            wrote_cm = summary.confusion_matrix("cm", labels, logits, step=step, from_logits=True,
                                                sample_weight=weights)
        return tf.logical_and(wrote_curves, wrote_cm)

    batches = {}
    for step in range(steps):
        rng = np.random.default_rng(100 + step)
        n = 200 + 50 * step  # varying batch size: no retracing (None batch axis)
        labels = rng.integers(0, num_classes, n)
        logits = rng.normal(0, 3, (n, num_classes)).astype(F32)
        weights = rng.integers(0, 3, n).astype(np.float64) * 0.5
        batches[step] = (labels, logits, weights)
        assert bool(log_step(labels, logits, weights, tf.constant(step, tf.int64)))
    assert log_step.experimental_get_tracing_count() == 1

    # A NaN score fails the step with the same message as the numpy writer, and writes nothing.
    labels, logits, weights = batches[0]
    bad_logits = logits.copy()
    bad_logits[7, 1] = np.nan
    with pytest.raises(ValueError) as numpy_error:
        summary.threshold_curves_pb("c", labels, bad_logits, from_logits=True)
    assert "predictions has 1 NaN or infinite values" in str(numpy_error.value)
    with pytest.raises(tf.errors.InvalidArgumentError) as tf_error:
        log_step(labels, bad_logits, weights, tf.constant(steps, tf.int64))
    assert str(numpy_error.value) in tf_error.value.message
    # A later good step still works.
    assert bool(log_step(labels, logits, weights, tf.constant(steps + 1, tf.int64)))
    writer.close()

    logged = read_back(tmp_path)
    assert sorted(logged["curves"]) == [*range(steps), steps + 1]
    assert sorted(logged["cm"]) == [*range(steps), steps + 1]
    for step, (labels, logits, weights) in batches.items():
        kwargs = dict(from_logits=True, sample_weight=weights)
        assert_same_counts(logged["curves"][step][1],
                           decode_pb(summary.threshold_curves_pb("c", labels, logits, **kwargs))[1])
        assert_same_counts(logged["cm"][step][1],
                           decode_pb(summary.confusion_matrix_pb("c", labels, logits, **kwargs))[1])


def test_tf_op_shape_errors_raise_valueerror_at_trace_time(tmp_path):
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(tmp_path))

    @tf.function
    def log(labels, predictions):
        with writer.as_default():
            return summary.confusion_matrix("cm", labels, predictions, step=0)

    with pytest.raises(ValueError, match=r"labels of shape \(4, 2\) do not fit predictions of shape \(4, 3\)"):
        log(tf.zeros([4, 2], tf.int64), tf.zeros([4, 3]))
    with pytest.raises(ValueError, match="class_names has 2 names but the data has 3 classes"):
        summary.confusion_matrix("cm", [0, 1], [[0.2, 0.3, 0.5]] * 2, step=0, class_names=["a", "b"])
    writer.close()
    assert read_back(tmp_path) == {}


# --- without TensorFlow ---------------------------------------------------------------------------

_NO_TF_SCRIPT = textwrap.dedent(
    """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
                raise ImportError(f"blocked for this test: {name}")
            return None

    sys.meta_path.insert(0, Block())
    import numpy as np
    import tb_metrics_plugin
    from tb_metrics_plugin import summary

    logdir = sys.argv[1]
    labels = np.array([0, 1, 2, 1, 0, 2])
    probs = np.array([[.7, .2, .1], [.1, .8, .1], [.2, .2, .6], [.5, .4, .1], [.3, .3, .4], [.1, .1, .8]])
    with tb_metrics_plugin.SummaryWriter(logdir) as writer:
        for step in range(2):
            writer.add_summary(summary.threshold_curves_pb("curves", labels, probs), step=step)
            writer.add_summary(summary.confusion_matrix_pb("cm", labels, probs, class_names=["a", "b", "c"]),
                               step=step)
    try:
        tb_metrics_plugin.MetricsCallback
    except ImportError:
        pass
    else:
        raise SystemExit("the Keras callback imported although keras is blocked")
    assert "tensorflow" not in sys.modules and "keras" not in sys.modules, sorted(sys.modules)
    print("OK-NO-TF")
    """
)


def test_numpy_writers_work_without_tensorflow(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", _NO_TF_SCRIPT, str(tmp_path)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OK-NO-TF" in result.stdout
    logged = read_back(tmp_path)
    assert sorted(logged["curves"]) == [0, 1] and sorted(logged["cm"]) == [0, 1]
    labels = np.array([0, 1, 2, 1, 0, 2])
    probs = np.array([[.7, .2, .1], [.1, .8, .1], [.2, .2, .6], [.5, .4, .1], [.3, .3, .4], [.1, .1, .8]])
    assert logged["cm"][1][1].matrix.tolist() == [[1, 0, 1], [1, 1, 0], [0, 0, 2]]
    assert logged["cm"][1][0].class_names == ("a", "b", "c")
    assert_same_counts(logged["curves"][0][1], decode_pb(summary.threshold_curves_pb("c", labels, probs))[1])
