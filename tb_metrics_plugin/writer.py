"""A small TensorFlow-free writer of `Summary` protos into a TensorBoard log directory, local or remote."""

from __future__ import annotations

import itertools
import numbers
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2

from tb_metrics_plugin import storage
from tb_metrics_plugin.crc32c import masked_crc32c

FILE_SUFFIX = ".tb_metrics"
# On a remote file system, a flush rewrites the current event file whole until it holds this many
# bytes; the next event then starts a new file. Bounds both the bytes uploaded per flush and the
# number of files TensorBoard polls per run (see docs/remote.md for what it costs).
OBJECT_BYTES = 1 << 20
_file_numbers = itertools.count()


class SummaryWriter:
    """Writes summaries to event files in the folder `logdir`: a local path or a URL.

    Works without TensorFlow (PyTorch, Keras on JAX or torch). Several writers may share a folder
    with Keras' TensorBoard callback: TensorBoard merges every event file of a folder into one run.
    Files are named like TensorBoard's own (`events.out.tfevents.<time>.<host>.<pid>.<n>`) with the
    suffix `.tb_metrics`, and hold TFRecord-framed `Event`s. Events reach storage on `flush()`, on
    `close()`, and when an event is added `flush_secs` or more after the last flush: in a custom loop
    call `flush()` after each epoch, so that a killed process keeps every completed epoch. Checksums
    are computed with numpy (`crc32c`), about 100 MB/s instead of the 2-6 MB/s of TensorBoard's
    pure-Python record writer. Thread-safe.

    A local `logdir` is created if missing and its one event file is appended to. A URL
    (`gs://bucket/logs/run1/validation`, `s3://...`, `az://...`) is written through `tf.io.gfile`
    when TensorFlow is importable and registers the scheme, else through fsspec and the installed
    back end for it (s3fs, gcsfs, adlfs, ...). Object stores cannot append, so there each flush
    uploads the current event file whole, one new version that replaces the last one at once: a
    crash keeps every flushed event. Once a file holds `object_bytes` or more, the next event starts
    a new file (`.<n>.<segment>.tb_metrics`), so a flush uploads at most about `object_bytes` plus
    the new events.

    Args:
      logdir: the run folder, e.g. `logs/run1/validation` or `s3://bucket/logs/run1/validation`.
      flush_secs: an event added this long after the last flush flushes.
      storage_options: options for the fsspec file system of a URL (credentials, endpoint_url,
        ...); giving them makes fsspec write even a scheme TensorFlow could write.
      object_bytes: on a remote file system, the size from which the next event starts a new file.

    Raises:
      ValueError: no installed file system writes the URL's scheme (the message names what to
        install), `storage_options` for a local folder, or `object_bytes` not a positive integer.

    Example:
      >>> with SummaryWriter("logs/run1/validation") as writer:  # doctest: +SKIP
      ...     writer.add_summary(threshold_curves_pb("roc", labels, scores), step=epoch)
    """

    def __init__(
        self,
        logdir: str | os.PathLike,
        flush_secs: float = 10.0,
        *,
        storage_options: Mapping[str, Any] | None = None,
        object_bytes: int = OBJECT_BYTES,
    ):
        self.logdir = os.fspath(logdir)
        if isinstance(object_bytes, bool) or not isinstance(object_bytes, numbers.Integral) or object_bytes < 1:
            raise ValueError(f"object_bytes={object_bytes!r} must be a positive integer (bytes).")
        self.flush_secs = flush_secs
        self._lock = threading.Lock()
        self._closed = False
        number = next(_file_numbers)
        if storage.is_local(self.logdir):
            if storage_options is not None:
                raise ValueError(
                    f"storage_options={storage_options!r} apply to URLs of remote file systems, but "
                    f"logdir={self.logdir!r} is a local folder; leave them out."
                )
            folder = storage.local_path(self.logdir)
            self._events = _AppendedFile(os.path.join(folder, _file_name(number)), _file_version_record)
        else:
            segments = itertools.count()
            self._events = _RewrittenObjects(
                storage.object_files(self.logdir, storage_options), self.logdir,
                lambda: _file_name(number, next(segments)), _file_version_record, int(object_bytes),
            )
        self._last_flush = time.monotonic()
        self.flush()

    @property
    def path(self) -> str:
        """The event file being written (on a remote file system, the newest of the writer's files)."""
        return self._events.path

    def add_summary(self, summary: summary_pb2.Summary, step: int, wall_time: float | None = None) -> None:
        """Writes one `Summary` (all its values) as a single event at `step`.

        One event per step keeps a step whole: a reader sees all of its values or none.

        Raises:
          ValueError: `step` is not a non-negative integer, or the writer is closed.
        """
        # numpy integers (e.g. from np.arange) are integers too; bools and floats are not.
        if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"step={step!r} must be a non-negative integer (the epoch or batch number).")
        record = _record(event_pb2.Event(
            wall_time=time.time() if wall_time is None else wall_time, step=int(step), summary=summary
        ))
        # One call under the lock, so that a record is never interleaved with another thread's.
        with self._lock:
            if self._closed:
                raise ValueError(f"this SummaryWriter of {self.path} is closed; create a new one to write more.")
            self._events.write(record)
        if time.monotonic() - self._last_flush >= self.flush_secs:
            self.flush()

    def flush(self) -> None:
        """Writes the events added so far to storage (on a remote file system: one upload)."""
        with self._lock:
            if not self._closed:
                self._events.flush()
                self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flushes and closes. Closing twice is harmless."""
        with self._lock:
            if self._closed:
                return
            self._events.close()  # may raise (an upload failed): the writer stays open for a retry
            self._closed = True

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _AppendedFile:
    """A local event file, appended to; the OS keeps what was flushed when the process dies."""

    def __init__(self, path: str, header: Callable[[], bytes]):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        self._file = open(path, "wb")  # noqa: SIM115 - held open until close()
        self._file.write(header())

    def write(self, record: bytes) -> None:
        self._file.write(record)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class _RewrittenObjects:
    """Event files on a file system that cannot append (object stores): each flush uploads the
    current file whole; once it holds `object_bytes` or more, the next record starts a new file,
    which begins, like every event file, with a file-version event."""

    def __init__(self, files: storage.ObjectFiles, folder: str, new_name: Callable[[], str],
                 header: Callable[[], bytes], object_bytes: int):
        self._files = files
        self._folder = folder
        self._new_name = new_name
        self._header = header
        self._object_bytes = object_bytes
        files.makedirs(folder)
        self._start_file()

    def _start_file(self) -> None:
        self.path = storage.join(self._folder, self._new_name())
        self._uploaded = b""
        self._pending = [self._header()]

    def write(self, record: bytes) -> None:
        if not self._pending and len(self._uploaded) >= self._object_bytes:
            self._start_file()
        self._pending.append(record)

    def flush(self) -> None:
        if not self._pending:
            return
        content = self._uploaded + b"".join(self._pending)
        self._files.put(self.path, content)  # on failure, nothing is lost: the next flush retries
        self._uploaded = content
        self._pending = []

    def close(self) -> None:
        self.flush()


def _file_name(number: int, segment: int | None = None) -> str:
    """`events.out.tfevents.<time>.<host>.<pid>.<number>[.<segment>].tb_metrics`; the segment is
    zero-padded so that a writer's files sort in the order they were written."""
    segment_part = "" if segment is None else f".{segment:06d}"
    return (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}."
            f"{number}{segment_part}{FILE_SUFFIX}")


def _file_version_record() -> bytes:
    return _record(event_pb2.Event(
        wall_time=time.time(), file_version="brain.Event:2",
        source_metadata=event_pb2.SourceMetadata(writer="tb_metrics_plugin"),
    ))


def _record(event: event_pb2.Event) -> bytes:
    """One TFRecord: length, masked CRC of the length, data, masked CRC of the data."""
    data = event.SerializeToString()
    header = struct.pack("<Q", len(data))
    return b"".join((header, struct.pack("<I", masked_crc32c(header)), data, struct.pack("<I", masked_crc32c(data))))
