"""Which file system writes a log directory: the local disk, TensorFlow's `tf.io.gfile`, or fsspec.

A log directory is a local path, or a URL whose scheme (`gs://`, `s3://`, `az://`, ...) names a
file system. A URL is written through `tf.io.gfile` when TensorFlow is importable and registers the
scheme (the client TensorBoard itself reads with when TensorFlow is installed), else through fsspec
with the user's back end for the scheme (s3fs, gcsfs, adlfs, ...). A scheme that neither can write
is a `ValueError`: it never becomes a local folder named `s3:`. TensorFlow and fsspec are imported
only when a URL asks for them, so local logging stays free of both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

# Local paths: no scheme, or file:// (written like any local path, appending in place).
LOCAL_SCHEMES = ("", "file")
# What to install for common schemes when fsspec itself is missing (fsspec names it otherwise).
_FSSPEC_BACK_ENDS = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}


def scheme_of(log_dir: str) -> str:
    """The URL scheme of `log_dir`: `"s3"` for `"s3://bucket/logs"`, `""` for a local path.

    >>> scheme_of("gs://bucket/logs"), scheme_of("logs/run1"), scheme_of("simplecache::s3://b/x")
    ('gs', '', 'simplecache')
    """
    head, separator, _ = log_dir.partition("://")
    if not separator or "/" in head or "\\" in head:
        return ""
    return head.partition("::")[0].lower()


def is_local(log_dir: str) -> bool:
    """True for a local path (or a `file://` URL), False for a URL of another file system."""
    return scheme_of(log_dir) in LOCAL_SCHEMES


def local_path(log_dir: str) -> str:
    """The local path of a local `log_dir`: `file:///tmp/logs` -> `/tmp/logs`."""
    return log_dir[len("file://"):] if scheme_of(log_dir) == "file" else log_dir


def join(log_dir: str | os.PathLike, *names: str) -> str:
    """`log_dir` joined with `names`: with `/` for a URL (whatever the OS), `os.path.join` locally.

    >>> join("s3://bucket/logs/", "run1", "validation")
    's3://bucket/logs/run1/validation'
    """
    log_dir = os.fspath(log_dir)
    if is_local(log_dir):
        return os.path.join(log_dir, *names)
    return "/".join([log_dir.rstrip("/"), *names])


class ObjectFiles:
    """Writes whole files (objects) under a URL; how depends on the file system that serves it.

    `put(url, data)` replaces the file `url` with `data` in one upload: on object stores the new
    version appears whole or not at all, which is what keeps every flushed epoch on a crash.
    """

    def makedirs(self, url: str) -> None:
        """Creates the folder `url` and its parents where the file system has folders."""
        raise NotImplementedError

    def put(self, url: str, data: bytes) -> None:
        """Writes `data` as the whole content of the file `url`, replacing any previous content."""
        raise NotImplementedError


class TensorFlowFiles(ObjectFiles):
    """`tf.io.gfile`: the file systems of the user's TensorFlow (`gs://`, and any it registered)."""

    def __init__(self, gfile):
        self._gfile = gfile

    def makedirs(self, url: str) -> None:
        self._gfile.makedirs(url)

    def put(self, url: str, data: bytes) -> None:
        # GFile uploads to an object store on close: one new version of the object, whole.
        with self._gfile.GFile(url, "wb") as file:
            file.write(data)


class FsspecFiles(ObjectFiles):
    """An fsspec file system (s3fs, gcsfs, adlfs, ...) built from the URL and `storage_options`."""

    def __init__(self, file_system, root_url: str, root_path: str):
        self.file_system = file_system
        self._root_url = root_url.rstrip("/")
        self._root_path = root_path.rstrip("/")

    def _path(self, url: str) -> str:
        """The file system's own path of `url` (fsspec file systems take paths without scheme)."""
        return self._root_path + url[len(self._root_url):]

    def makedirs(self, url: str) -> None:
        # As fsspec.open(..., "wb") does: a no-op on most object stores; with s3fs it also creates
        # a missing bucket, like os.makedirs creating a missing parent folder.
        self.file_system.makedirs(self._path(url), exist_ok=True)

    def put(self, url: str, data: bytes) -> None:
        self.file_system.pipe_file(self._path(url), data)


def object_files(log_dir: str, storage_options: Mapping[str, Any] | None = None) -> ObjectFiles:
    """The file system that writes the URL `log_dir`: TensorFlow's when it is importable, registers
    the scheme and no `storage_options` are given (those are fsspec's), else fsspec's.

    Raises:
      ValueError: `log_dir` is local, or no installed file system can write its scheme; the message
        names the scheme and what to install.
    """
    scheme = scheme_of(log_dir)
    if scheme in LOCAL_SCHEMES:
        raise ValueError(f"log_dir={log_dir!r} is a local path, not a URL of a remote file system.")
    tensorflow_schemes = _tensorflow_schemes()
    if storage_options is None and scheme in tensorflow_schemes:
        import tensorflow as tf

        return TensorFlowFiles(tf.io.gfile)
    try:
        import fsspec
    except ImportError:
        back_end = _FSSPEC_BACK_ENDS.get(scheme)
        install = (f"fsspec and {back_end} (pip install \"tb-metrics-plugin[remote]\" {back_end})" if back_end
                   else f"fsspec and its back end for {scheme}:// (pip install \"tb-metrics-plugin[remote]\" ...)")
        raise ValueError(
            f"no installed file system writes {scheme}:// (log_dir={log_dir!r}): "
            f"{_tensorflow_note(tensorflow_schemes)}, and fsspec is not installed. Install {install}."
        ) from None
    try:
        fsspec.get_filesystem_class(scheme)
    except (ImportError, ValueError) as error:
        raise ValueError(
            f"no installed file system writes {scheme}:// (log_dir={log_dir!r}): "
            f"{_tensorflow_note(tensorflow_schemes)}; fsspec says: {str(error).rstrip('.')}. Install the "
            f"fsspec back end for {scheme}://, or log to a local folder."
        ) from None
    file_system, root_path = fsspec.core.url_to_fs(log_dir, **dict(storage_options or {}))
    return FsspecFiles(file_system, log_dir, root_path)


def check_writable(log_dir: str | os.PathLike) -> None:
    """Raises the `ValueError` of `object_files` now when no installed file system writes the URL
    `log_dir` (nothing is created); does nothing for a local path."""
    log_dir = os.fspath(log_dir)
    if not is_local(log_dir):
        object_files(log_dir)


def _tensorflow_schemes() -> frozenset[str]:
    """The schemes `tf.io.gfile` writes here; empty when TensorFlow is not importable."""
    try:
        import tensorflow as tf
    except ImportError:
        return frozenset()
    return frozenset(tf.io.gfile.get_registered_schemes())


def _tensorflow_note(tensorflow_schemes: frozenset[str]) -> str:
    if not tensorflow_schemes:
        return "TensorFlow is not installed"
    schemes = ", ".join(f"{scheme}://" for scheme in sorted(tensorflow_schemes - {"", "file"}))
    return f"TensorFlow writes only {schemes}"
