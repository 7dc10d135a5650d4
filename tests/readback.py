"""Reading back what was written (event files, `Summary` protos) and reference counts from numpy."""

from __future__ import annotations

import os

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from tb_metrics_plugin import layout, metadata, summary


def decode_summary(pb, tag: str | None = None):
    """The decoded counts (`layout.ThresholdCurveCounts` / `ConfusionMatrixCounts`) of a one-value
    `Summary`, or of its value under `tag`."""
    (value,) = pb.value if tag is None else [value for value in pb.value if value.tag == tag]
    plugin_data = metadata.parse_plugin_metadata(value.metadata.plugin_data.content)
    return layout.decode(tensor_util.make_ndarray(value.tensor), plugin_data)


def read_run(run_dir) -> dict[str, dict[int, object]]:
    """{tag: {step: decoded counts}} for every summary of our plugin in the run folder ({} if none)."""
    if not os.path.isdir(run_dir):
        return {}
    accumulator = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    accumulator.Reload()
    found = {}
    for tag in accumulator.Tags()["tensors"]:
        plugin = accumulator.SummaryMetadata(tag).plugin_data
        if plugin.plugin_name != metadata.PLUGIN_NAME:
            continue
        plugin_data = metadata.parse_plugin_metadata(plugin.content)
        steps = {}
        for event in accumulator.Tensors(tag):
            assert event.step not in steps, f"{tag} written twice at step {event.step}"
            steps[event.step] = layout.decode(tensor_util.make_ndarray(event.tensor_proto), plugin_data)
        found[tag] = steps
    return found


def scalar_steps(run_dir, tag: str) -> list[int]:
    """Steps of a scalar Keras' TensorBoard callback wrote (Keras 3 writes scalars as tensors)."""
    accumulator = EventAccumulator(str(run_dir), size_guidance={"tensors": 0, "scalars": 0})
    accumulator.Reload()
    if tag in accumulator.Tags()["tensors"]:
        return sorted(event.step for event in accumulator.Tensors(tag))
    return sorted(event.step for event in accumulator.Scalars(tag))


def reference_curves(labels, predictions, **kwargs):
    """Counts of the numpy writer (tested against scikit-learn elsewhere), exact where it stores
    a class exactly."""
    return decode_summary(summary.threshold_curves_pb("reference", labels, predictions, **kwargs))


def on_grid(counts: layout.ThresholdCurveCounts, grid) -> layout.ThresholdCurveCounts:
    """`counts` with every exact class re-binned onto `grid`: a distinct score s goes to bin
    #{t in grid : t < s}, the bin a grid counter puts it in."""
    grid = np.asarray(grid, dtype=np.float32)
    positive = np.zeros((len(counts.class_names), grid.size + 1))
    negative = np.zeros_like(positive)
    rows = counts.per_class_thresholds
    for c in range(len(counts.class_names)):
        if counts.exact[c]:
            scores = rows[c][np.isfinite(rows[c])]
            bins = np.searchsorted(grid, scores.astype(np.float32), side="left")
            held = slice(0, scores.size)
            positive[c] = np.bincount(bins, counts.positive_histograms[c, held], minlength=grid.size + 1)
            negative[c] = np.bincount(bins, counts.negative_histograms[c, held], minlength=grid.size + 1)
        else:  # a grid class, padded like the step's widest exact class
            np.testing.assert_array_equal(rows[c][: grid.size], grid)
            assert np.all(np.isinf(rows[c][grid.size :]))
            positive[c] = counts.positive_histograms[c, : grid.size + 1]
            negative[c] = counts.negative_histograms[c, : grid.size + 1]
    return layout.ThresholdCurveCounts(grid, positive, negative, counts.class_names)


def reference_matrix(labels, predictions, **kwargs):
    return decode_summary(summary.confusion_matrix_pb("reference", labels, predictions, **kwargs))


def assert_same_curves(actual, expected, exact: bool = True) -> None:
    """Thresholds, class names and both histograms equal (exactly, or to float32 rounding). Grid
    counts (a Keras metric's) are compared with the reference's exact classes re-binned onto the
    same grid (`on_grid`)."""
    if not actual.exact.any() and expected.exact.any():
        expected = on_grid(expected, actual.thresholds)
    np.testing.assert_array_equal(actual.exact, expected.exact)
    np.testing.assert_array_equal(actual.thresholds, expected.thresholds)
    assert tuple(actual.class_names) == tuple(expected.class_names)
    if exact:
        np.testing.assert_array_equal(actual.positive_histograms, expected.positive_histograms)
        np.testing.assert_array_equal(actual.negative_histograms, expected.negative_histograms)
    else:  # float32 accumulation of weighted counts
        np.testing.assert_allclose(actual.positive_histograms, expected.positive_histograms, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(actual.negative_histograms, expected.negative_histograms, rtol=1e-5, atol=1e-4)


def assert_same_matrix(actual, expected, exact: bool = True) -> None:
    assert tuple(actual.class_names) == tuple(expected.class_names)
    assert actual.ignore_class == expected.ignore_class
    if exact:
        np.testing.assert_array_equal(actual.matrix, expected.matrix)
    else:
        np.testing.assert_allclose(actual.matrix, expected.matrix, rtol=1e-5, atol=1e-4)


def assert_served_step(answer, position: int, written) -> None:
    """The `position`-th step of a `counts` route answer holds exactly the decoded counts `written`."""
    from tb_metrics_plugin import wire

    if isinstance(written, layout.ThresholdCurveCounts):
        # Steps of one answer share a width: a narrower step's rows are padded with +inf thresholds
        # and empty bins, which must be all that was added.
        served = wire.decode_array(answer["thresholds"])[position]
        rows = written.thresholds if served.ndim == 1 else written.per_class_thresholds
        width = rows.shape[-1]
        np.testing.assert_array_equal(served[..., :width], rows)
        assert np.all(np.isinf(served[..., width:]))
        np.testing.assert_array_equal(wire.decode_array(answer["exact"])[position], written.exact)
        for name, histograms in (("positive", written.positive_histograms), ("negative", written.negative_histograms)):
            served_histograms = wire.decode_array(answer[name])[position]
            np.testing.assert_array_equal(served_histograms[:, : width + 1], histograms)
            assert not served_histograms[:, width + 1 :].any()
    else:
        np.testing.assert_array_equal(wire.decode_array(answer["matrix"])[position], written.matrix)
