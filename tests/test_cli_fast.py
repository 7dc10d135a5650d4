"""The command line without TensorFlow: the event-file reader against TensorBoard's own loader on the
same logs, the CLI in a fresh interpreter (what it imports, what it prints), and what `check` gates.

The reference reader is TensorBoard's `EventMultiplexer` (every step kept) behind its
`MultiplexerDataProvider`, which is what the command line used before; it reads records with
TensorFlow's record reader here, as TensorFlow is installed.
"""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
from tensorboard.context import RequestContext
from tensorboard.util import tensor_util

from tb_metrics_plugin import SummaryWriter, cli, event_files, metadata, reading, summary, tables
from tb_metrics_plugin.crc32c import masked_crc32c
from tests.test_damaged_logs import FLIPPED, STEPS, TRUNCATED, UNPARSABLE, write_damaged_logdir

PLUGIN = metadata.PLUGIN_NAME
LISTING = {"experiment_id": "", "plugin_name": PLUGIN}


def tensorboard_provider(logdir):
    """TensorBoard's Python loader over `logdir`, every step of our tags kept."""
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer

    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={PLUGIN: 0})
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    return data_provider.MultiplexerDataProvider(multiplexer, str(logdir))


def assert_reads_as_tensorboard(logdir, downsample: int = reading.ALL_STEPS) -> dict:
    """Our provider and TensorBoard's list the same runs, tags, max steps and wall times and
    metadata, and read the same data (steps, wall times, values and dtypes, in the same order);
    returns our `read_tensors` answer."""
    ours, theirs, ctx = event_files.EventFileDataProvider(logdir), tensorboard_provider(logdir), RequestContext()
    assert ours.list_tensors(ctx, **LISTING) == theirs.list_tensors(ctx, **LISTING)
    our_data = ours.read_tensors(ctx, downsample=downsample, **LISTING)
    their_data = theirs.read_tensors(ctx, downsample=downsample, **LISTING)
    assert {run: set(tags) for run, tags in our_data.items()} == {run: set(tags) for run, tags in their_data.items()}
    for run, tags in their_data.items():
        for tag, their_series in tags.items():
            our_series = our_data[run][tag]
            assert [(d.step, d.wall_time) for d in our_series] == [(d.step, d.wall_time) for d in their_series]
            for our_datum, their_datum in zip(our_series, their_series, strict=True):
                assert our_datum.numpy.dtype == their_datum.numpy.dtype
                assert our_datum.numpy.shape == their_datum.numpy.shape
                assert our_datum.numpy.tolist() == their_datum.numpy.tolist()
    return our_data


def write_records(path, events) -> None:
    """`events` as TFRecords, framed as every TensorBoard writer frames them."""
    with open(path, "wb") as file:
        for event in events:
            data = event.SerializeToString()
            header = struct.pack("<Q", len(data))
            footer = struct.pack("<I", masked_crc32c(data))
            file.write(header + struct.pack("<I", masked_crc32c(header)) + data + footer)


def curves_pb(step: int, tag: str = "threshold_curves", offset: float = 0.0):
    """A small binary threshold-curve summary whose counts depend on `step` and `offset`."""
    rng = np.random.default_rng(step)
    labels = rng.integers(0, 2, size=40)
    scores = np.clip(0.5 + (labels - 0.5) * (0.2 + 0.1 * step) + 0.2 * rng.normal(size=40) + offset, 0, 1)
    return summary.threshold_curves_pb(tag, labels, scores, num_thresholds=8)


def matrix_pb(step: int, tag: str = "confusion_matrix"):
    rng = np.random.default_rng(100 + step)
    labels = rng.integers(0, 3, size=30)
    return summary.confusion_matrix_pb(tag, labels, rng.dirichlet(np.ones(3), size=30))


def summary_event(pb, step: int, wall_time: float) -> event_pb2.Event:
    return event_pb2.Event(step=step, wall_time=wall_time, summary=pb)


def without_metadata(pb):
    """The same values with no metadata: writers may send it with a tag's first value only."""
    bare = summary_pb2.Summary()
    bare.CopyFrom(pb)
    for value in bare.value:
        value.ClearField("metadata")
    return bare


# --- the reader against TensorBoard's loader -------------------------------------------------------


def test_a_keras_fit_reads_as_tensorboard_reads_it(fitted_logs):
    """binary/train holds two event files (Keras' TensorBoard callback and ours), validation too."""
    data = assert_reads_as_tensorboard(fitted_logs.logdir)
    assert set(data) == {"binary/train", "binary/validation", "digits/validation"}
    assert all([d.step for d in series] == list(range(fitted_logs.epochs))
               for tags in data.values() for series in tags.values())
    assert len([p for p in os.listdir(fitted_logs.logdir / "binary" / "train") if "tfevents" in p]) == 2


def test_damaged_logs_read_as_tensorboard_reads_them(tmp_path, caplog):
    """Truncated last record, a record whose payload fails its checksum, a flipped count, metadata
    of a future version, wrong shapes, a tensor of strings, empty folders and an empty event file."""
    write_damaged_logdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger=event_files.__name__):
        data = assert_reads_as_tensorboard(tmp_path)
    assert [d.step for d in data[TRUNCATED]["threshold_curves"]] == list(range(STEPS - 1))
    for run in (UNPARSABLE, FLIPPED):  # the file is read up to the damaged record
        assert [d.step for d in data[run]["threshold_curves"]] == [0, 1]
        assert any(run in message and "fails its payload checksum" in message for message in caplog.messages)
    assert not any(TRUNCATED in message for message in caplog.messages)  # a cut-short tail is no damage
    assert data["strings"]["threshold_curves"][0].numpy.dtype == object


def test_runs_files_restarts_and_metadata_read_as_tensorboard_reads_them(tmp_path):
    """Run names (".", nested), file order, a step written twice, restarts in old and new files,
    tags claimed by another plugin first, values without metadata, what is not an event file."""
    write_records(tmp_path / "events.out.tfevents.1.root", [
        event_pb2.Event(wall_time=1.0, file_version="brain.Event:2"),
        summary_event(curves_pb(0), 0, 1.5),
    ])
    nested = tmp_path / "exp" / "a" / "validation"
    nested.mkdir(parents=True)
    # Two files of one run: read in name order (b_ before c_), not in the order written.
    write_records(nested / "events.out.tfevents.9.c_second", [
        event_pb2.Event(wall_time=9.0, file_version="brain.Event:2"),
        summary_event(curves_pb(2, offset=0.3), 2, 9.5),  # a rewrite of step 2 after a restart
        summary_event(curves_pb(3), 3, 9.6),
    ])
    write_records(nested / "events.out.tfevents.5.b_first", [
        event_pb2.Event(wall_time=5.0, file_version="brain.Event:2"),
        *(summary_event(curves_pb(step), step, 5.0 + step) for step in range(3)),
        summary_event(without_metadata(curves_pb(5)), 5, 5.8),
    ])
    old = tmp_path / "old_format"
    old.mkdir()
    # file_version 1: a step going back drops the data of the tags it holds at steps >= it.
    write_records(old / "events.out.tfevents.1.v1", [
        event_pb2.Event(wall_time=1.0, file_version="brain.Event:1"),
        *(summary_event(curves_pb(step), step, 1.0 + step) for step in range(4)),
        *(summary_event(matrix_pb(step), step, 1.0 + step) for step in range(4)),
        summary_event(curves_pb(1, offset=-0.2), 1, 9.0),
    ])
    restarted = tmp_path / "restarted"
    restarted.mkdir()
    start = event_pb2.SessionLog(status=event_pb2.SessionLog.START)
    # file_version 2: a second SessionLog.START at step s drops every tag's data at steps >= s.
    write_records(restarted / "events.out.tfevents.1.v2", [
        event_pb2.Event(wall_time=1.0, file_version="brain.Event:2"),
        event_pb2.Event(wall_time=1.0, step=0, session_log=start),
        *(summary_event(curves_pb(step), step, 1.0 + step) for step in range(4)),
        *(summary_event(matrix_pb(step), step, 1.5 + step) for step in range(4)),
        event_pb2.Event(wall_time=8.0, step=2, session_log=start),
        summary_event(curves_pb(2, offset=0.1), 2, 8.5),
    ])
    claimed = tmp_path / "claimed"
    claimed.mkdir()
    scalar = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="threshold_curves", simple_value=0.5)])
    no_class = curves_pb(1, tag="no_data_class")
    no_class.value[0].metadata.data_class = summary_pb2.DATA_CLASS_UNKNOWN
    write_records(claimed / "events.out.tfevents.1.claimed", [
        event_pb2.Event(wall_time=1.0, file_version="brain.Event:2"),
        summary_event(scalar, 0, 1.0),  # a legacy scalar claims the tag for the scalars plugin
        summary_event(curves_pb(1), 1, 2.0),
        summary_event(no_class, 1, 2.0),
        summary_event(curves_pb(1, tag="kept"), 1, 2.0),
    ])
    write_records(claimed / "events.out.tfevents.2.profile-empty", [summary_event(curves_pb(7), 7, 3.0)])
    (claimed / "notes.txt").write_text("not an event file")
    (tmp_path / "no_events").mkdir()

    data = assert_reads_as_tensorboard(tmp_path)
    assert set(data) == {".", "exp/a/validation", "old_format", "restarted", "claimed"}
    assert [d.step for d in data["exp/a/validation"]["threshold_curves"]] == [0, 1, 2, 5, 2, 3]
    assert [d.step for d in data["old_format"]["threshold_curves"]] == [0, 1]
    assert [d.step for d in data["old_format"]["confusion_matrix"]] == [0, 1, 2, 3]
    assert [d.step for d in data["restarted"]["threshold_curves"]] == [0, 1, 2]
    assert [d.step for d in data["restarted"]["confusion_matrix"]] == [0, 1]
    assert set(data["claimed"]) == {"kept"}
    # Sampling picks the same steps as TensorBoard's.
    assert_reads_as_tensorboard(tmp_path, downsample=2)

    # A step written twice: the datum read last is the one `reading` keeps.
    provider = event_files.EventFileDataProvider(tmp_path)
    series = reading.read_series(provider, None, "", "exp/a/validation", "threshold_curves")
    assert series.steps.tolist() == [0, 1, 2, 3, 5]
    rewritten = reading.read_series(provider, None, "", "exp/a/validation", "threshold_curves", step=2)
    assert rewritten.wall_times.tolist() == [9.5]


def test_reading_records_stops_exactly_at_the_first_record_cut_short(tmp_path):
    events = [summary_event(curves_pb(step), step, float(step)) for step in range(3)]
    whole = tmp_path / "whole.tfevents"
    write_records(whole, events)
    data = whole.read_bytes()
    ends = np.cumsum([12 + len(event.SerializeToString()) + 4 for event in events])
    cut = tmp_path / "cut.tfevents"
    for length in range(len(data) + 1):
        cut.write_bytes(data[:length])
        payloads = list(event_files.read_records(str(cut)))
        assert payloads == [event.SerializeToString() for event in events[: int(np.sum(ends <= length))]]


# numpy dtype -> (TensorProto dtype, repeated field), the pairs TensorFlow's writers use.
_ENCODINGS = {
    np.float32: (types_pb2.DT_FLOAT, "float_val"), np.float64: (types_pb2.DT_DOUBLE, "double_val"),
    np.float16: (types_pb2.DT_HALF, "half_val"), np.int8: (types_pb2.DT_INT8, "int_val"),
    np.int16: (types_pb2.DT_INT16, "int_val"), np.int32: (types_pb2.DT_INT32, "int_val"),
    np.int64: (types_pb2.DT_INT64, "int64_val"), np.uint8: (types_pb2.DT_UINT8, "int_val"),
    np.uint16: (types_pb2.DT_UINT16, "int_val"), np.bool_: (types_pb2.DT_BOOL, "bool_val"),
    np.complex64: (types_pb2.DT_COMPLEX64, "scomplex_val"), np.complex128: (types_pb2.DT_COMPLEX128, "dcomplex_val"),
    np.object_: (types_pb2.DT_STRING, "string_val"),
}


@settings(max_examples=300, deadline=None)
@given(
    dtype=st.sampled_from(list(_ENCODINGS)),
    shape=st.lists(st.integers(0, 4), max_size=3),
    encoding=st.sampled_from(["tensor_content", "repeated", "one_value"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_tensors_become_the_arrays_tensorboard_makes(dtype, shape, encoding, seed):
    """tensor_content, the repeated *_val fields, and one value standing for all of them."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    if dtype is np.object_:
        values = np.array([bytes(rng.integers(0, 256, size=3, dtype=np.uint8)) for _ in range(size)], dtype=object)
    elif dtype is np.bool_:
        values = rng.integers(0, 2, size=size).astype(bool)
    elif np.issubdtype(dtype, np.complexfloating):
        values = (rng.normal(size=size) + 1j * rng.normal(size=size)).astype(dtype)
    elif np.issubdtype(dtype, np.floating):
        values = rng.normal(size=size).astype(dtype)
    else:
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=size, endpoint=True, dtype=dtype)
    values = values.reshape(shape)
    proto_dtype, field = _ENCODINGS[dtype]
    proto = tensor_pb2.TensorProto(dtype=proto_dtype)
    for dim_size in shape:
        proto.tensor_shape.dim.add(size=dim_size)
    if encoding == "tensor_content" and dtype is not np.object_:
        proto.tensor_content = values.tobytes()
    else:
        flat = values.ravel()[:1] if encoding == "one_value" else values.ravel()
        if encoding == "one_value" and size:
            values = np.full(shape, flat[0], dtype=dtype)
        if dtype is np.float16:
            getattr(proto, field).extend(flat.view(np.uint16).tolist())
        elif np.issubdtype(dtype, np.complexfloating):
            getattr(proto, field).extend(np.stack([flat.real, flat.imag], axis=-1).ravel().tolist())
        else:
            getattr(proto, field).extend(flat.tolist())
    ours = event_files.tensor_to_numpy(proto)
    assert ours.dtype == values.dtype and ours.shape == values.shape
    assert ours.tolist() == values.tolist()
    theirs = tensor_util.make_ndarray(proto)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape and ours.tolist() == theirs.tolist()


def test_tensors_that_cannot_be_read_are_refused_in_words(tmp_path):
    bfloat16 = tensor_pb2.TensorProto(dtype=types_pb2.DT_BFLOAT16, half_val=[1])
    with pytest.raises(event_files.UnsupportedTensorError, match="tensor dtype DT_BFLOAT16 cannot be read"):
        event_files.tensor_to_numpy(bfloat16)
    short = tensor_util.make_tensor_proto(np.zeros((2, 3), dtype=np.float32))
    short.tensor_content = short.tensor_content[:8]
    with pytest.raises(event_files.UnsupportedTensorError, match=r"shape \[2, 3\] holds 2 values instead of 6"):
        event_files.tensor_to_numpy(short)
    provider = event_files.EventFileDataProvider(tmp_path)
    with pytest.raises(ValueError, match="plugin_name='scalars': this provider holds only 'tb_metrics' data"):
        provider.list_tensors(None, experiment_id="", plugin_name="scalars")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        event_files.EventFileDataProvider(tmp_path / "missing")


# --- the command line in a fresh interpreter -------------------------------------------------------


def run_fresh(*argv) -> dict:
    """`cli.main(argv)` in a new interpreter (TensorFlow's log level not lowered): its exit status,
    stdout and stderr, and which of the slow packages it imported."""
    script = textwrap.dedent(f"""
        import contextlib, io, json, sys
        from tb_metrics_plugin import cli
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            out = io.StringIO()
            status = cli.main({list(map(str, argv))!r}, stdout=out)
        slow = ("tensorflow", "keras", "grpc", "tensorboard.backend.event_processing", "tensorboard.util.tensor_util",
                "tensorboard.compat.tensorflow_stub")
        print(json.dumps({{"status": status, "out": out.getvalue(), "err": err.getvalue(),
                          "imported": sorted(name for name in slow if name in sys.modules)}}))
    """)
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return json.loads(done.stdout)


def tensorboard_records(logdir, run: str, tag: str) -> list[dict]:
    """`tables.records` of the last step, read through TensorBoard's loader."""
    provider = tensorboard_provider(logdir)
    listing = reading.list_series(provider, RequestContext(), "")
    series = reading.read_series(provider, RequestContext(), "", run, tag, listing[run][tag].max_step)
    return json.loads(tables.to_json(tables.records(series)))


def test_export_and_check_import_neither_tensorflow_nor_tensorboards_loaders(fitted_logs):
    """And print nothing but their answer: no TensorFlow log lines."""
    done = run_fresh("export", "--logdir", fitted_logs.logdir, "--format", "json")
    assert done["status"] == 0 and done["err"] == "" and done["imported"] == []
    records = json.loads(done["out"])
    listing = reading.list_series(tensorboard_provider(fitted_logs.logdir), RequestContext(), "")
    assert {(r["run"], r["tag"]) for r in records} == {(run, tag) for run, tags in listing.items() for tag in tags}
    for run, tags in listing.items():
        for tag in tags:
            expected = tensorboard_records(fitted_logs.logdir, run, tag)
            assert [r for r in records if r["run"] == run and r["tag"] == tag] == expected
    done = run_fresh("check", "--logdir", fitted_logs.logdir, "--metric", "roc_auc", "--min", 0)
    assert done["status"] == 0 and done["err"] == "" and done["imported"] == []
    assert "runs checked: 'binary/validation', 'digits/validation'" in done["out"]


def test_import_tb_metrics_plugin_leaves_summary_helpers_until_used():
    script = textwrap.dedent("""
        import sys
        import tb_metrics_plugin as tbm
        before = "tensorboard.util.tensor_util" in sys.modules
        pb = tbm.summary.confusion_matrix_pb("m", [0, 1], [0.2, 0.9])
        from tb_metrics_plugin import summary
        print(before, summary is tbm.summary, pb.value[0].tag, "tensorflow" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "True", "m", "False"], done.stderr


# --- what check gates ------------------------------------------------------------------------------


def write_split_logs(logdir) -> None:
    """run1/{train,validation}: perfect training scores, validation scores near chance; train/ and
    validation/ at the top level (a pair too); lone/train without a validation sibling."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=200)
    for run, scores in (("run1/train", labels * 0.8 + 0.1), ("run1/validation", rng.uniform(size=200)),
                        ("train", labels * 0.8 + 0.1), ("validation", labels * 0.6 + 0.2),
                        ("lone/train", labels * 0.7 + 0.15)):
        with SummaryWriter(logdir / run) as writer:
            writer.add_summary(summary.threshold_curves_pb("threshold_curves", labels, scores), step=0)


def check(logdir, *args) -> tuple[int, str]:
    out = io.StringIO()
    status = cli.main(["check", "--logdir", str(logdir), "--metric", "roc_auc", *map(str, args)], stdout=out)
    return status, out.getvalue()


def test_check_gates_validation_runs_by_default_and_says_which(tmp_path):
    """A gate that training scores would pass fails on the held-out run beside them."""
    write_split_logs(tmp_path)
    status, out = check(tmp_path, "--min", 0.9)
    assert status == 1
    assert "FAIL run='run1/validation' tag='threshold_curves' step=0 class='positive'" in out
    assert "run1/train" not in out.split("runs checked:")[0]
    assert "runs checked: 'lone/train', 'run1/validation', 'validation'\n" in out
    assert "training runs left out (their validation run is checked; name them with --run to check them): " \
           "'run1/train', 'train'\n" in out
    status, out = check(tmp_path, "--min", 0.9, "--run", "run1/train", "--run", "train")
    assert status == 0 and "runs checked: 'run1/train', 'train'\n" in out and "left out" not in out


def test_check_help_says_which_runs_are_checked(capsys):
    with pytest.raises(SystemExit):
        cli.main(["check", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "the training split of each train/validation pair is left out" in help_text
    assert "default: every run but a 'train' run beside a 'validation' run" in help_text


def test_a_missing_step_is_reported_for_the_tag_being_checked(tmp_path, capsys):
    """Curves logged at steps 0-3, the confusion matrix only at 0-1: checking a curve metric at
    step 3 reads no confusion matrix; checking accuracy there names the confusion-matrix tag."""
    with SummaryWriter(tmp_path / "run") as writer:
        for step in range(4):
            writer.add_summary(curves_pb(step), step)
            if step < 2:
                writer.add_summary(matrix_pb(step), step)
    status, out = check(tmp_path, "--min", 0.0, "--step", 3)
    assert status == 0 and "4 of 4 roc_auc values >= 0" in out
    status = cli.main(["check", "--logdir", str(tmp_path), "--metric", "accuracy", "--min", "0", "--step", "3"],
                      stdout=io.StringIO())
    error = capsys.readouterr().err
    assert status == 2
    assert "step=3 is not a stored step of run='run' tag='confusion_matrix'" in error
    assert "threshold_curves" not in error
