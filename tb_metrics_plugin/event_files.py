"""This plugin's tensors read straight from a log directory, without TensorFlow or TensorBoard's
loaders, behind the two data-provider calls `reading` makes (for the `tb-metrics` command line).

The log directory is a local folder, or a URL (`s3://bucket/logs`, `gs://...`, `az://...`) read
through fsspec with the user's back end for the scheme (s3fs, gcsfs, adlfs), configured as that
back end is (credentials, `AWS_ENDPOINT_URL`, ...): the same back ends `SummaryWriter` writes with.

What is read and how follows TensorBoard's Python loader (`EventMultiplexer` with every step kept),
so runs, tags, steps and values are the ones TensorBoard serves:

- a run is a folder holding at least one file whose name contains `tfevents`; its name is the
  folder's path relative to the log directory ("." for the log directory itself);
- a run's event files (`.profile-empty` ones left out) are read one after the other in sorted
  name order;
- each file is a sequence of TFRecords: u64 length, u32 masked CRC-32C of the length, payload,
  u32 masked CRC-32C of the payload. A record cut short ends the file quietly (a writer may be in
  the middle of it); a checksum that fails ends the file with a warning, as TensorBoard stops there;
- each payload is an `Event`; a tag's first `SummaryMetadata` in the run decides its plugin and
  data class, and every tensor logged under the tag is kept in the order read, so a step written
  twice appears twice and `reading` keeps the last;
- data orphaned by a restart is dropped as TensorBoard drops it: with `file_version` 2 or more
  (every current writer), a second `SessionLog.START` at step s drops every datum at step >= s;
  with older files, a summary at a step below the previous summary's drops its own tags' data at
  step >= s.

A tensor becomes numpy as `tensorboard.util.tensor_util.make_ndarray` makes it (which is not
imported: it pulls in TensorBoard's TensorFlow stub, a second of imports).
"""

from __future__ import annotations

import logging
import os
import random
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
from google.protobuf import message
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
from tensorboard.data import provider

from tb_metrics_plugin import metadata, storage
from tb_metrics_plugin.crc32c import masked_crc32c

logger = logging.getLogger(__name__)

EVENT_FILE_MARKER = "tfevents"  # TensorBoard's test for an event file: this in the file name
PROFILE_EMPTY_SUFFIX = ".profile-empty"  # placeholder event files of the profiler, never read
_HEADER = struct.Struct("<QI")  # record length, masked CRC-32C of its 8 bytes
_FOOTER = struct.Struct("<I")  # masked CRC-32C of the payload
# A legacy summary value (converted to a tensor of another plugin by TensorBoard) claims its tag.
_LEGACY_VALUE_FIELDS = frozenset({"simple_value", "image", "histo", "audio"})
_LEGACY_METADATA = summary_pb2.SummaryMetadata()

# TensorProto dtype -> (numpy dtype, repeated field holding the values when tensor_content is empty).
_TENSOR_DTYPES: dict[int, tuple[Any, str]] = {
    types_pb2.DT_FLOAT: (np.float32, "float_val"),
    types_pb2.DT_DOUBLE: (np.float64, "double_val"),
    types_pb2.DT_HALF: (np.float16, "half_val"),
    types_pb2.DT_INT8: (np.int8, "int_val"),
    types_pb2.DT_INT16: (np.int16, "int_val"),
    types_pb2.DT_INT32: (np.int32, "int_val"),
    types_pb2.DT_INT64: (np.int64, "int64_val"),
    types_pb2.DT_UINT8: (np.uint8, "int_val"),
    types_pb2.DT_UINT16: (np.uint16, "int_val"),
    types_pb2.DT_UINT32: (np.uint32, "uint32_val"),
    types_pb2.DT_UINT64: (np.uint64, "uint64_val"),
    types_pb2.DT_BOOL: (np.bool_, "bool_val"),
    types_pb2.DT_COMPLEX64: (np.complex64, "scomplex_val"),
    types_pb2.DT_COMPLEX128: (np.complex128, "dcomplex_val"),
    types_pb2.DT_STRING: (np.object_, "string_val"),
}


class UnsupportedTensorError(ValueError):
    """A logged tensor whose dtype or size this reader cannot turn into a numpy array."""


def is_event_file(path: str) -> bool:
    """Whether TensorBoard reads `path` as an event file: `tfevents` in its name, not a profiler
    placeholder (`.profile-empty`)."""
    return EVENT_FILE_MARKER in os.path.basename(path) and not path.endswith(PROFILE_EMPTY_SUFFIX)


def run_folders(logdir: str) -> dict[str, str]:
    """{run name: folder} of every folder under `logdir` (itself included) that holds an event file.

    The run name is the folder's path relative to `logdir`, "." for `logdir` itself, as in both of
    TensorBoard's loaders. Symbolic links to folders are followed (as TensorBoard's walk does),
    each real folder once.
    """
    found: dict[str, str] = {}
    seen_real_paths: set[str] = set()
    for folder, subfolders, file_names in os.walk(logdir, followlinks=True):
        real_path = os.path.realpath(folder)
        if real_path in seen_real_paths:  # a link back up the tree: walked already
            subfolders.clear()
            continue
        seen_real_paths.add(real_path)
        subfolders.sort()
        if any(EVENT_FILE_MARKER in name for name in file_names):
            found[os.path.relpath(folder, logdir)] = folder
    return found


class RemoteFolder:
    """The event files under a URL log directory, listed once through fsspec.

    Attributes:
      file_system: the fsspec file system of the URL's scheme.
      root: the log directory's path on that file system (no scheme).
      files: {folder path: sorted paths of the event files directly in it}.
    """

    def __init__(self, url: str):
        try:
            import fsspec
        except ImportError:
            raise ValueError(f"logdir {url!r} is a URL: reading it needs fsspec and its back end for "
                             f"{storage.scheme_of(url)}:// (pip install \"tb-metrics-plugin[remote]\").") from None
        try:
            self.file_system, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as error:
            raise ValueError(f"logdir {url!r}: no installed fsspec back end reads {storage.scheme_of(url)}:// "
                             f"({str(error).rstrip('.')}).") from None
        self.root = root.rstrip("/")
        if not self.file_system.isdir(self.root):
            raise NotADirectoryError(f"logdir {url!r} is not a folder.")
        self.files: dict[str, list[str]] = {}
        for path in sorted(self.file_system.find(self.root)):
            if is_event_file(path):
                self.files.setdefault(path.rsplit("/", 1)[0], []).append(path)

    def run_folders(self) -> dict[str, str]:
        """{run name: folder}, as `run_folders` names local runs ("." for the log directory)."""
        return {("." if folder == self.root else folder[len(self.root) + 1:]): folder for folder in sorted(self.files)}

    def open(self, path: str, mode: str = "rb"):
        return self.file_system.open(path, mode)


def event_file_paths(folder: str) -> list[str]:
    """The event files directly in `folder`, in the order TensorBoard reads them (sorted by path)."""
    paths = (os.path.join(folder, name) for name in os.listdir(folder))
    return sorted(path for path in paths if is_event_file(path) and os.path.isfile(path))


def read_records(path: str, opener=open) -> Iterator[bytes]:
    """The payloads of the TFRecords in the file at `path`, up to the first one cut short or damaged.

    A record cut short at the end of the file (a writer in the middle of it, a copy cut short) ends
    the iteration quietly. A record whose length or payload fails its masked CRC-32C ends it with
    a warning: TensorBoard stops reading the file there too. `opener(path, "rb")` opens the file
    (a `RemoteFolder`'s for a URL).
    """
    with opener(path, "rb") as file:
        offset = 0
        while True:
            header = file.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return
            length, length_crc = _HEADER.unpack(header)
            if masked_crc32c(header[:8]) != length_crc:
                _warn_damaged(path, offset, "length")
                return
            payload = file.read(length + _FOOTER.size)
            if len(payload) < length + _FOOTER.size:
                return
            data = payload[:length]
            if masked_crc32c(data) != _FOOTER.unpack_from(payload, length)[0]:
                _warn_damaged(path, offset, "payload")
                return
            yield data
            offset += _HEADER.size + length + _FOOTER.size


def _warn_damaged(path: str, offset: int, part: str) -> None:
    logger.warning(
        "tb_metrics: %s: the record at byte %d fails its %s checksum; the file is read up to there, as "
        "TensorBoard reads it (the steps after it are not shown either).", path, offset, part,
    )


def tensor_to_numpy(tensor: tensor_pb2.TensorProto) -> np.ndarray:
    """The numpy array `tensorboard.util.tensor_util.make_ndarray` makes of `tensor`.

    From `tensor_content` (raw little-endian bytes) when it is set, else from the dtype's repeated
    field (`float_val`, `double_val`, `int_val`, `int64_val`, `string_val`, ...), where a single
    value stands for every element. Strings become an object array of bytes.

    Raises:
      UnsupportedTensorError: a dtype without a numpy equivalent here (bfloat16, quantized,
        resource, variant), or values that do not fill the shape.
    """
    if tensor.dtype not in _TENSOR_DTYPES:
        name = types_pb2.DataType.Name(tensor.dtype) if tensor.dtype in types_pb2.DataType.values() else tensor.dtype
        raise UnsupportedTensorError(
            f"tensor dtype {name} cannot be read without TensorFlow; this plugin logs float32 or float64 "
            "tensors, so the tag was written by something else."
        )
    dtype, field = _TENSOR_DTYPES[tensor.dtype]
    shape = tuple(dim.size for dim in tensor.tensor_shape.dim)
    num_elements = int(np.prod(shape, dtype=np.int64))
    if tensor.tensor_content and dtype is not np.object_:
        values = np.frombuffer(tensor.tensor_content, dtype=dtype).copy()
    else:
        repeated = getattr(tensor, field)
        if dtype is np.float16:
            values = np.fromiter(repeated, dtype=np.uint16, count=len(repeated)).view(np.float16)
        elif dtype is np.object_:
            values = np.array(list(repeated), dtype=object)
        elif dtype in (np.complex64, np.complex128):
            pairs = np.fromiter(repeated, dtype=np.float64, count=len(repeated))
            values = (pairs[0::2] + 1j * pairs[1::2]).astype(dtype)
        else:
            values = np.fromiter(repeated, dtype=dtype, count=len(repeated))
        if values.size == 1:
            values = np.repeat(values, num_elements)
    if values.size != num_elements:
        raise UnsupportedTensorError(
            f"tensor of shape {list(shape)} holds {values.size} values instead of {num_elements}; "
            "the event file was written wrongly."
        )
    return values.reshape(shape)


class _RunReader:
    """The tensors of one run, built event by event as TensorBoard's event accumulator builds them."""

    def __init__(self, plugin_name: str):
        self.plugin_name = plugin_name
        self.metadata_by_tag: dict[str, summary_pb2.SummaryMetadata] = {}
        # tag -> [(step, wall_time, TensorProto)] in the order read, for tags that are (or, their
        # metadata not seen yet, may turn out to be) `plugin_name`'s.
        self.data_by_tag: dict[str, list[tuple[int, float, tensor_pb2.TensorProto]]] = {}
        self._file_version: float | None = None
        self._seen_session_start = False
        self._most_recent_step = -1

    def add(self, event: event_pb2.Event) -> None:
        if event.HasField("file_version"):
            self._file_version = _parse_file_version(event.file_version)
        what = event.WhichOneof("what")
        # TensorBoard turns graph and run-metadata events into summaries before this point.
        is_summary = what in ("summary", "graph_def", "tagged_run_metadata")
        self._drop_orphaned_data(event, is_summary)
        if is_summary:
            self._most_recent_step = event.step
        if what != "summary":
            return
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            if value.HasField("metadata"):
                self.metadata_by_tag.setdefault(value.tag, value.metadata)
            elif kind in _LEGACY_VALUE_FIELDS:
                self.metadata_by_tag.setdefault(value.tag, _LEGACY_METADATA)
            if kind != "tensor":
                continue
            tag = value.tag or value.node_name
            tag_metadata = self.metadata_by_tag.get(tag)
            if tag_metadata is None or tag_metadata.plugin_data.plugin_name == self.plugin_name:
                self.data_by_tag.setdefault(tag, []).append((event.step, event.wall_time, value.tensor))

    def _drop_orphaned_data(self, event: event_pb2.Event, is_summary: bool) -> None:
        """Drops data at steps >= event.step that a restart orphaned (TensorBoard's purge)."""
        if self._file_version is not None and self._file_version >= 2:
            if event.session_log.status != event_pb2.SessionLog.START:
                return
            if not self._seen_session_start:
                self._seen_session_start = True
                return
            tags = list(self.data_by_tag)
        elif is_summary and event.step < self._most_recent_step:
            tags = [value.tag for value in event.summary.value if value.tag in self.data_by_tag]
        else:
            return
        for tag in tags:
            self.data_by_tag[tag] = [datum for datum in self.data_by_tag[tag] if datum[0] < event.step]

    def series(self) -> dict[str, tuple[summary_pb2.SummaryMetadata, list]]:
        """{tag: (metadata, data)} of the tags whose first metadata is `plugin_name`'s tensor data."""
        return {
            tag: (self.metadata_by_tag[tag], data)
            for tag, data in self.data_by_tag.items()
            if tag in self.metadata_by_tag
            and self.metadata_by_tag[tag].plugin_data.plugin_name == self.plugin_name
            and self.metadata_by_tag[tag].data_class == summary_pb2.DATA_CLASS_TENSOR
        }


def _parse_file_version(file_version: str) -> float:
    """"brain.Event:2" -> 2.0; -1 for a version that is not a number (TensorBoard's rule)."""
    try:
        return float(file_version.split("brain.Event:")[-1])
    except ValueError:
        return -1.0


def _read_run(paths: list[str], plugin_name: str, opener=open) -> dict[str, tuple[summary_pb2.SummaryMetadata, list]]:
    reader = _RunReader(plugin_name)
    for path in paths:
        for record in read_records(path, opener):
            try:
                event = event_pb2.Event.FromString(record)
            except message.DecodeError:
                logger.warning("tb_metrics: %s: a record with a valid checksum is not an Event; the file is "
                               "read up to there.", path)
                break
            reader.add(event)
    return reader.series()


def _downsample(data: list, samples: int) -> list:
    """At most `samples` of `data`, in order, the last always kept: TensorBoard's sampling rule
    (a seeded random choice of the others), so a sample is the one its Python loader sends."""
    if samples > len(data):
        return list(data)
    if samples == 0:
        return []
    indices = sorted(random.Random(0).sample(range(len(data) - 1), samples - 1)) + [len(data) - 1]
    return [data[index] for index in indices]


class EventFileDataProvider:
    """`list_tensors` and `read_tensors` of a TensorBoard data provider, over the event files of a
    local folder or a URL (`RemoteFolder`), read once when constructed (see the module docstring).

    Only tags of `plugin_name` are kept; asking for another plugin is an error rather than an
    empty answer. `ctx` and `experiment_id` are accepted and ignored, as there is one log directory.

    Raises (constructor):
      NotADirectoryError: `logdir` is not a folder.
      ValueError: `logdir` is a URL that no installed fsspec back end reads.
    """

    def __init__(self, logdir: str | os.PathLike, plugin_name: str = metadata.PLUGIN_NAME):
        self.logdir = os.fspath(logdir)
        self.plugin_name = plugin_name
        if not storage.is_local(self.logdir):
            remote = RemoteFolder(self.logdir)
            folders = remote.run_folders()
            self._runs = {run: series for run, folder in folders.items()
                          if (series := _read_run(remote.files[folder], plugin_name, remote.open))}
            return
        self.logdir = os.path.expanduser(storage.local_path(self.logdir))
        if not os.path.isdir(self.logdir):
            raise NotADirectoryError(f"logdir {self.logdir!r} is not a folder.")
        self._runs = {
            run: series
            for run, folder in sorted(run_folders(self.logdir).items())
            if (series := _read_run(event_file_paths(folder), plugin_name))
        }

    def _check_plugin(self, plugin_name: str) -> None:
        if plugin_name != self.plugin_name:
            raise ValueError(
                f"plugin_name={plugin_name!r}: this provider holds only {self.plugin_name!r} data; construct "
                f"EventFileDataProvider(logdir, plugin_name={plugin_name!r}) to read that plugin's tags."
            )

    def _selected(self, run_tag_filter: provider.RunTagFilter | None) -> Iterator[tuple[str, str, Any, list]]:
        runs = run_tag_filter.runs if run_tag_filter is not None else None
        tags = run_tag_filter.tags if run_tag_filter is not None else None
        for run, series in self._runs.items():
            if runs is not None and run not in runs:
                continue
            for tag, (tag_metadata, data) in series.items():
                if tags is None or tag in tags:
                    yield run, tag, tag_metadata, data

    def list_tensors(
        self, ctx=None, *, experiment_id: str, plugin_name: str, run_tag_filter: provider.RunTagFilter | None = None
    ) -> dict[str, dict[str, provider.TensorTimeSeries]]:
        """{run: {tag: TensorTimeSeries}}: max step and wall time over the tag's data, its metadata's
        plugin content, description and display name; runs without such tags are left out."""
        self._check_plugin(plugin_name)
        result: dict[str, dict[str, provider.TensorTimeSeries]] = {}
        for run, tag, tag_metadata, data in self._selected(run_tag_filter):
            result.setdefault(run, {})[tag] = provider.TensorTimeSeries(
                max_step=max((step for step, _, _ in data), default=None),
                max_wall_time=max((wall_time for _, wall_time, _ in data), default=None),
                plugin_content=tag_metadata.plugin_data.content,
                description=tag_metadata.summary_description,
                display_name=tag_metadata.display_name,
            )
        return result

    def read_tensors(
        self,
        ctx=None,
        *,
        experiment_id: str,
        plugin_name: str,
        downsample: int,
        run_tag_filter: provider.RunTagFilter | None = None,
    ) -> dict[str, dict[str, list[provider.TensorDatum]]]:
        """{run: {tag: [TensorDatum(step, wall_time, numpy)]}} in the order read, at most
        `downsample` per tag (TensorBoard's sample: the last and a seeded random choice of the rest).

        Raises:
          UnsupportedTensorError: a selected tensor cannot be made a numpy array (see
            `tensor_to_numpy`).
        """
        self._check_plugin(plugin_name)
        if not isinstance(downsample, int) or downsample < 0:
            raise TypeError(f"downsample={downsample!r} must be a non-negative int (the number of steps wanted).")
        result: dict[str, dict[str, list[provider.TensorDatum]]] = {}
        for run, tag, _, data in self._selected(run_tag_filter):
            result.setdefault(run, {})[tag] = [
                provider.TensorDatum(step=step, wall_time=wall_time, numpy=tensor_to_numpy(tensor))
                for step, wall_time, tensor in _downsample(data, downsample)
            ]
        return result
