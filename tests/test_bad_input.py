"""Bad input fails loudly: a ValueError naming the argument, the bad value and the fix, and nothing is
written for that step."""

from __future__ import annotations

import re

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator

from tb_metrics_plugin import SummaryWriter, summary

P3 = [[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]]
BIN = [0.2, 0.4]

# id: (kwargs, message fragments (regular expressions), applies to confusion matrices too)
CASES = {
    "nan_scores": (dict(labels=[0, 1], predictions=[0.2, np.nan]),
                   [r"^predictions has 1 NaN or infinite", r"first nan at flat index \(1, 0\)", "diverged"], True),
    "inf_scores": (dict(labels=[0, 1, 2], predictions=[[0.2, 0.3, 0.5], [0.1, np.inf, 0.2], [0.3, 0.3, 0.4]]),
                   [r"^predictions has 1 NaN or infinite", r"first inf at flat index \(1, 1\)"], True),
    "neg_inf_logits": (dict(labels=[0, 1], predictions=[-np.inf, 2.0], from_logits=True),
                       [r"^predictions has 1 NaN or infinite", "first -inf"], True),
    "probabilities_above_1": (dict(labels=[0, 1], predictions=[0.2, 3.5]),
                              [r"^predictions must be probabilities in \[0, 1\]", "to 3.5", "from_logits=True"], True),
    "probabilities_below_0": (dict(labels=[0, 1, 1], predictions=[[-0.5, 1.5]] * 3),
                              ["predictions must be probabilities", "from -0.5 to 1.5", "from_logits=True"], True),
    "label_above_range": (dict(labels=[0, 3], predictions=P3),
                          [r"^labels has 1 values outside \[0, 3\)", r"e\.g\. 3", "class indices",
                           "ignore_class=3"], True),
    "label_negative": (dict(labels=[-1, 2], predictions=P3),
                       [r"^labels has 1 values outside \[0, 3\)", r"e\.g\. -1", "ignore_class=-1"], True),
    "label_out_of_range_despite_ignore_class": (
        dict(labels=[7, 255], predictions=P3, ignore_class=255),
        [r"^labels has 1 values outside \[0, 3\)", r"e\.g\. 7\)"], True),
    "non_integer_labels": (dict(labels=[0, 1.5], predictions=P3),
                           [r"^labels must be whole numbers", "got 1.5", "pass the hard labels"], True),
    "soft_binary_labels": (dict(labels=[0.1, 0.9], predictions=BIN),
                           [r"^labels must be whole numbers", "got 0.1"], True),
    "binary_label_2": (dict(labels=[0, 2], predictions=BIN),
                       [r"^labels must be 0 or 1", "got 2", "one column per class"], True),
    "one_hot_two_ones": (dict(labels=[[1, 1, 0], [0, 0, 1]], predictions=P3),
                         [r"^one-hot labels must have exactly one 1 per row", "row 0 has 2", "multi_label=True"],
                         True),
    "one_hot_no_one": (dict(labels=[[1, 0, 0], [0, 0, 0]], predictions=P3),
                       ["one-hot labels", "row 1 has 0", "multi_label=True"], True),
    "shape_mismatch": (dict(labels=[0, 1, 1], predictions=BIN),
                       [r"^labels of shape \(3,\) do not fit predictions of shape \(2,\)", "Expected"], True),
    "shape_mismatch_classes": (dict(labels=[[0, 1], [1, 0]], predictions=P3),
                               [r"labels of shape \(2, 2\) do not fit predictions of shape \(2, 3\)"], True),
    "zero_score_columns": (dict(labels=[0, 1], predictions=np.zeros((2, 0))),
                           [r"^predictions of shape \(2, 0\) have no score columns", "one score per class"], True),
    "num_classes_disagrees": (dict(labels=[0, 1], predictions=P3, num_classes=4),
                              [r"^num_classes=4 disagrees", r"\(2, 3\) hold 3 classes", "Fix num_classes"], True),
    "num_classes_binary": (dict(labels=[0, 1], predictions=BIN, num_classes=3),
                           ["num_classes=3", "single sigmoid score is binary: 2 classes"], True),
    "empty": (dict(labels=np.zeros(0), predictions=np.zeros(0)),
              ["labels and predictions hold no items", "pass at least one sample"], True),
    "empty_after_ignore_class": (dict(labels=[255, 255], predictions=P3, ignore_class=255),
                                 ["hold no items", "ignore_class"], True),
    "class_names_too_few": (dict(labels=[0, 1], predictions=P3, class_names=["a", "b"]),
                            [r"^class_names has 2 names but the data has 3 classes", "pass 3 names"], True),
    "class_names_binary": (dict(labels=[0, 1], predictions=BIN, class_names=["positive"]),
                           ["class_names has 1 names", "binary counts as 2", "pass 2 names"], True),
    "class_names_duplicate": (dict(labels=[0, 1], predictions=P3, class_names=["a", "b", "a"]),
                              ["class_names must be distinct strings"], True),
    "negative_sample_weight": (dict(labels=[0, 1], predictions=BIN, sample_weight=[1.0, -1.0]),
                               [r"^sample_weight has 1 negative or non-finite", r"e\.g\. -1\.0", ">= 0"], True),
    "nan_sample_weight": (dict(labels=[0, 1], predictions=BIN, sample_weight=[np.nan, 1.0]),
                          ["sample_weight has 1 negative or non-finite", r"e\.g\. nan"], True),
    "sample_weight_shape": (dict(labels=[0, 1], predictions=BIN, sample_weight=[1.0, 1.0, 1.0]),
                            [r"^sample_weight of shape \(3,\) does not fit labels of shape \(2,\)",
                             "one weight per sample"], True),
    "sample_weight_shape_segmentation": (
        dict(labels=np.zeros((2, 4, 4), int), predictions=np.full((2, 4, 4, 3), 1 / 3),
             sample_weight=np.ones((2, 5))),
        [r"sample_weight of shape \(2, 5\) does not fit labels of shape \(2, 4, 4\)", r"per item \(2, 4, 4\)"],
        True),
    "thresholds_above_1": (dict(labels=[0, 1], predictions=BIN, thresholds=[0.2, 1.5]),
                           [r"^thresholds must lie in \[0, 1\]", r"thresholds\[1\]=1\.5", "from_logits=True"], False),
    "thresholds_negative": (dict(labels=[0, 1], predictions=BIN, thresholds=[-0.1, 0.5]),
                            [r"thresholds\[0\]=-0\.1 does not"], False),
    "thresholds_unsorted": (dict(labels=[0, 1], predictions=BIN, thresholds=[0.5, 0.2]),
                            [r"^thresholds must be strictly increasing", r"thresholds\[0\]=0\.5 is followed by 0\.2",
                             "Sort them"], False),
    "thresholds_duplicate": (dict(labels=[0, 1], predictions=BIN, thresholds=[0.1, 0.2, 0.2]),
                             [r"thresholds\[1\]=0\.2 is followed by 0\.2", "drop duplicates"], False),
    "thresholds_equal_as_float32": (dict(labels=[0, 1], predictions=BIN, thresholds=[0.2, 0.2000000001]),
                                    [r"strictly increasing \(as float32\)", "followed by 0.2000000001"], False),
    "thresholds_empty": (dict(labels=[0, 1], predictions=BIN, thresholds=[]),
                         [r"^thresholds must be a non-empty 1-D list", r"shape \(0,\)"], False),
    "num_thresholds_1": (dict(labels=[0, 1], predictions=BIN, num_thresholds=1),
                         [r"^num_thresholds=1 must be >= 2"], False),
    "num_thresholds_float": (dict(labels=[0, 1], predictions=BIN, num_thresholds=100.0),
                             [r"^num_thresholds=100\.0 must be an integer >= 2"], False),
    "multi_label_with_sparse_labels": (dict(labels=[0, 1], predictions=P3, multi_label=True),
                                       [r"^multi_label=True needs labels shaped like predictions",
                                        "pass 0/1 labels per class"], False),
}

WRITERS = ["threshold_curves_pb", "confusion_matrix_pb"]
PARAMS = [
    pytest.param(case, writer, id=f"{case}-{writer}")
    for case, (_, _, both) in CASES.items()
    for writer in WRITERS
    if both or writer == "threshold_curves_pb"
]


def _steps(logdir):
    accumulator = event_accumulator.EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    accumulator.Reload()
    return {tag: [event.step for event in accumulator.Tensors(tag)] for tag in accumulator.Tags()["tensors"]}


def _good(writer_name):
    return getattr(summary, writer_name)("metric", [0, 1, 1], [0.2, 0.7, 0.4])


@pytest.mark.parametrize(("case", "writer_name"), PARAMS)
def test_bad_input_raises_and_writes_nothing(case, writer_name, tmp_path):
    kwargs, fragments, _ = CASES[case]
    write = getattr(summary, writer_name)
    with SummaryWriter(tmp_path) as writer:
        writer.add_summary(_good(writer_name), step=0)
        with pytest.raises(ValueError, match=fragments[0]) as error:
            writer.add_summary(write("metric", **kwargs), step=1)
        writer.add_summary(_good(writer_name), step=2)
    message = str(error.value)
    for fragment in fragments:
        assert re.search(fragment, message), (fragment, message)
    assert "np.float" not in message and "np.int" not in message  # values shown as the user wrote them
    assert _steps(tmp_path) == {"metric": [0, 2]}


TF_CASES = ["nan_scores", "probabilities_above_1", "label_above_range", "one_hot_two_ones", "empty",
            "negative_sample_weight", "shape_mismatch", "class_names_too_few", "thresholds_unsorted"]


@pytest.mark.parametrize(
    ("case", "op_name"),
    [(case, op) for case in TF_CASES for op in ("threshold_curves", "confusion_matrix")
     if CASES[case][2] or op == "threshold_curves"],
)
def test_eager_tf_ops_raise_the_same_error_and_write_nothing(case, op_name, tmp_path):
    import tensorflow as tf

    kwargs, fragments, _ = CASES[case]
    op = getattr(summary, op_name)
    with pytest.raises(ValueError) as numpy_error:
        getattr(summary, op_name + "_pb")("metric", **kwargs)
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        assert bool(op("metric", [0, 1, 1], [0.2, 0.7, 0.4], step=0))
        with pytest.raises(ValueError) as error:
            op("metric", step=1, **kwargs)
        assert bool(op("metric", [0, 1, 1], [0.2, 0.7, 0.4], step=2))
    writer.close()
    # TensorFlow turns Python floats into float32 (0.2 -> 0.20000000298023224), otherwise same text.
    for fragment in fragments:
        assert re.search(fragment, str(error.value)), (fragment, str(error.value))
        assert re.search(fragment, str(numpy_error.value))
    assert _steps(tmp_path) == {"metric": [0, 2]}


@pytest.mark.parametrize("threshold", [1.5, -0.1, float("nan"), "0.5"])
def test_confusion_matrix_decision_threshold_must_be_a_probability(threshold, tmp_path):
    import tensorflow as tf

    fragments = [rf"^threshold={re.escape(repr(threshold))} must be a number in \[0, 1\]", "from_logits=True"]
    with SummaryWriter(tmp_path / "numpy") as writer:
        writer.add_summary(_good("confusion_matrix_pb"), step=0)
        with pytest.raises(ValueError, match=fragments[0]) as error:
            writer.add_summary(summary.confusion_matrix_pb("metric", [0, 1], BIN, threshold=threshold), step=1)
    assert re.search(fragments[1], str(error.value))
    assert _steps(tmp_path / "numpy") == {"metric": [0]}
    writer = tf.summary.create_file_writer(str(tmp_path / "tf"))
    with writer.as_default(), pytest.raises(ValueError, match=fragments[0]):
        summary.confusion_matrix("metric", [0, 1], BIN, step=1, threshold=threshold)
    writer.close()
    assert _steps(tmp_path / "tf") == {}
