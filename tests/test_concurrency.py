"""Concurrency: 20 clients at once on a real `tensorboard` process (both loaders) serving a 100-run
logdir, over real HTTP on 127.0.0.1, each answer checked against what was written.

Every run has its own data (its own number of items, seed and class names), so an answer meant for
another run, tag or step, or mixed up between requests, cannot pass. Expected counts are the
histograms and matrices of the `Summary` protos as written; expected metrics are the numeric core
on those (`core.threshold_curves_summary`, `core.confusion_matrix_summary`,
`core.confusion_at_thresholds`); the written counts themselves are checked against the labels and
scikit-learn when the logdir is made. The load is bounded in requests and in time, and stops by
itself; requests made, errors, throughput and latency percentiles are printed.
"""

from __future__ import annotations

import csv
import io
import json
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from tb_metrics_plugin import SummaryWriter, core, metadata, summary
from tests.readback import assert_served_step, decode_summary

pytestmark = pytest.mark.slow  # a tensorboard process per loader and 1000 HTTP requests

PREFIX = f"/data/plugin/{metadata.PLUGIN_NAME}"
NUM_RUNS = 100
NUM_STEPS = 3
NUM_CLASSES = 3
TAGS = ("threshold_curves", "confusion_matrix")
NUM_CLIENTS = 20
REQUESTS_PER_CLIENT = 25
TIME_LIMIT_SECONDS = 90.0  # for the whole load; each client stops at it even if requests are left
REQUEST_TIMEOUT_SECONDS = 30.0
# Summary and export numbers go through JSON / CSV as shortest round-trip reprs of float64.
RTOL = 1e-12


@dataclass
class RunData:
    """What one run holds: per tag and step, the decoded counts as written, and the core's numbers."""

    class_names: list[str]
    counts: dict[str, dict[int, object]] = field(default_factory=dict)
    numbers: dict[str, dict[int, dict]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def hundred_runs(tmp_path_factory) -> tuple[object, dict[str, RunData]]:
    """A logdir of 100 runs × 2 tags × 3 steps written with `SummaryWriter`, and what each holds."""
    logdir = tmp_path_factory.mktemp("hundred_runs")
    expected: dict[str, RunData] = {}
    for index in range(NUM_RUNS):
        run = f"run{index:03d}"
        rng = np.random.default_rng(index)
        class_names = [f"r{index}-c{k}" for k in range(NUM_CLASSES)]
        data = expected[run] = RunData(class_names)
        with SummaryWriter(logdir / run) as writer:
            for step in range(NUM_STEPS):
                num_items = 30 + 7 * index + step  # different per run and step
                labels = rng.integers(0, NUM_CLASSES, num_items)
                # Scores leaning towards the true class by a run-specific amount: a distinct ROC-AUC per run.
                logits = rng.normal(size=(num_items, NUM_CLASSES)) + (0.5 + index / 50) * np.eye(NUM_CLASSES)[labels]
                scores = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
                for tag, make in (("threshold_curves", summary.threshold_curves_pb),
                                  ("confusion_matrix", summary.confusion_matrix_pb)):
                    written = make(tag, labels, scores, class_names=class_names)
                    writer.add_summary(written, step=step)
                    data.counts.setdefault(tag, {})[step] = decode_summary(written)
                curves = data.counts["threshold_curves"][step]
                # The written counts are those of the data: class sizes, and scikit-learn's matrix.
                np.testing.assert_array_equal(curves.positive_histograms.sum(axis=1),
                                              np.bincount(labels, minlength=NUM_CLASSES))
                np.testing.assert_array_equal(data.counts["confusion_matrix"][step].matrix,
                                              confusion_matrix(labels, scores.argmax(axis=1),
                                                               labels=range(NUM_CLASSES)))
                data.numbers.setdefault("threshold_curves", {})[step] = core.threshold_curves_summary(
                    curves.positive_histograms, curves.negative_histograms, curves.thresholds, curves.exact)
                data.numbers.setdefault("confusion_matrix", {})[step] = core.confusion_matrix_summary(
                    data.counts["confusion_matrix"][step].matrix)
    return logdir, expected


# Checking one answer ----------------------------------------------------------------------------


def close(actual, expected) -> bool:
    """Equal up to float64 text round-trip; None (JSON null, an empty CSV cell) stands for NaN."""
    def as_float(value):
        return np.nan if value is None or value == "" else float(value)

    actual_values = np.vectorize(as_float, otypes=[float])(np.asarray(actual, dtype=object))
    return bool(np.allclose(actual_values, np.asarray(expected, dtype=np.float64), rtol=RTOL, atol=0, equal_nan=True))


def check_tags(answer, expected: dict[str, RunData]) -> None:
    assert sorted(answer) == sorted(expected), "runs differ"
    for run, data in expected.items():
        assert sorted(answer[run]) == sorted(TAGS), run
        for tag in TAGS:
            entry = answer[run][tag]
            assert entry["class_names"] == data.class_names, (run, tag)
            assert entry["kind"] == tag and entry["steps"] == list(range(NUM_STEPS)), (run, tag, entry)


def check_counts(answer, data: RunData, run: str, tag: str, steps: list[int]) -> None:
    assert (answer["run"], answer["tag"], answer["steps"]) == (run, tag, steps), answer["steps"]
    assert answer["class_names"] == data.class_names
    for position, step in enumerate(steps):
        assert_served_step(answer, position, data.counts[tag][step])


def check_summary(answer, data: RunData, run: str, tag: str) -> None:
    assert (answer["run"], answer["tag"], answer["steps"]) == (run, tag, list(range(NUM_STEPS)))
    assert answer["class_names"] == data.class_names
    for position in range(NUM_STEPS):
        for metric, values in data.numbers[tag][position].items():
            for key, value in values.items():
                assert close(answer["series"][metric][key][position], value), (metric, key, position)


def check_export(body: bytes, export_format: str, params: dict, data: RunData) -> None:
    if export_format == "json":
        records = json.loads(body)
    else:
        records = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    step = int(params["step"]) if "step" in params else None
    steps = [step] if step is not None else list(range(NUM_STEPS))
    assert sorted({int(record["step"]) for record in records}) == steps
    assert {record["run"] for record in records} == {params["run"]}
    tag = params["tag"]
    if params.get("content") == "counts":
        check_count_records(records, tag, data, step)
        return
    for record in records:
        record_step = int(record["step"])
        numbers = data.numbers[tag][record_step]
        if tag == "confusion_matrix":
            assert all(close(record[metric], numbers[metric]["value"]) for metric in ("accuracy", "mean_iou", "kappa"))
            continue
        name = record["class"]
        position = data.class_names.index(name) if name in data.class_names else None
        for metric in ("roc_auc", "average_precision", "best_f1"):
            expected = numbers[metric]["per_class"][position] if position is not None else numbers[metric][name]
            assert close(record[metric], expected), (metric, name, record_step)
        if "threshold" in params and position is not None:
            # The class at the stored threshold that stands for the one asked: exact classes at the
            # threshold itself (largest score <= it), grid classes at the nearest.
            written = data.counts[tag][record_step]
            index = core.threshold_index(written.per_class_thresholds[position], float(params["threshold"]),
                                         exact=bool(written.exact[position]))
            expected_counts = core.counts_at_index(
                written.positive_histograms[position], written.negative_histograms[position], index)
            assert close([record[key] for key in ("tp", "fp", "tn", "fn")], expected_counts), (name, record_step)


def check_count_records(records, tag: str, data: RunData, step: int) -> None:
    """The raw-count records of one step, in the export's order: per class and stored threshold
    (TP, FP, TN, FN), or per confusion-matrix cell."""
    written = data.counts[tag][step]
    if tag == "confusion_matrix":
        cells = [(record["true_class"], record["predicted_class"]) for record in records]
        assert cells == [(true, predicted) for true in data.class_names for predicted in data.class_names]
        assert close([record["count"] for record in records], written.matrix.reshape(-1))
        return
    # One record per class and stored threshold (an exact class's are its distinct scores).
    rows = [row[np.isfinite(row)] for row in written.per_class_thresholds]
    assert [record["class"] for record in records] == [name for name, row in zip(data.class_names, rows, strict=True)
                                                       for _ in row]
    thresholds = [float(record["threshold"]) for record in records]
    assert thresholds == np.concatenate(rows).astype(np.float64).tolist()
    for key, counts in zip(("tp", "fp", "tn", "fn"), core.confusion_at_thresholds(
            written.positive_histograms, written.negative_histograms), strict=True):
        expected = np.concatenate([counts[c, : len(row)] for c, row in enumerate(rows)])
        assert close([record[key] for record in records], expected), key


# The clients ------------------------------------------------------------------------------------


@dataclass
class Load:
    """What the clients did: one latency per request, and a description of each wrong answer."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    by_route: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def random_request(rng: random.Random, expected: dict[str, RunData]) -> tuple[str, dict[str, str]]:
    route = rng.choice(["tags", "counts", "counts", "summary", "summary", "export", "export"])
    if route == "tags":
        return route, {}
    params = {"run": rng.choice(sorted(expected)), "tag": rng.choice(TAGS)}
    if route == "counts" and rng.random() < 0.5:
        params["step"] = str(rng.randrange(NUM_STEPS))
    if route == "export":
        params["format"] = rng.choice(["csv", "json"])
        choice = rng.random()
        if choice < 0.3:
            params.update(content="counts", step=str(rng.randrange(NUM_STEPS)))
        elif choice < 0.6 and params["tag"] == "threshold_curves":
            params["threshold"] = f"{rng.random():.4f}"
        elif choice < 0.8:
            params["step"] = str(rng.randrange(NUM_STEPS))
    return route, params


def client(base_url: str, seed: int, expected: dict[str, RunData], deadline: float, load: Load) -> None:
    """One client: `REQUESTS_PER_CLIENT` random requests, one at a time, each answer checked."""
    rng = random.Random(seed)
    for _ in range(REQUESTS_PER_CLIENT):
        if time.monotonic() > deadline:
            return
        route, params = random_request(rng, expected)
        url = f"{base_url}{PREFIX}/{route}?{urllib.parse.urlencode(params)}"
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT_SECONDS) as response:
                body = response.read()
                content_type = response.headers.get_content_type()
            latency = time.perf_counter() - started
            check_answer(route, params, body, content_type, expected)
        except (AssertionError, urllib.error.URLError, OSError, ValueError, KeyError) as error:
            latency = time.perf_counter() - started
            with load.lock:
                load.errors.append(f"{url[:200]}: {type(error).__name__}: {str(error)[:300]}")
        with load.lock:
            load.latencies.append(latency)
            load.by_route[route] = load.by_route.get(route, 0) + 1


def check_answer(route: str, params: dict, body: bytes, content_type: str, expected: dict[str, RunData]) -> None:
    if route == "export":
        assert content_type == ("text/csv" if params["format"] == "csv" else "application/json"), content_type
        check_export(body, params["format"], params, expected[params["run"]])
        return
    assert content_type == "application/json", content_type
    answer = json.loads(body)
    if route == "tags":
        check_tags(answer, expected)
    elif route == "counts":
        steps = [int(params["step"])] if "step" in params else list(range(NUM_STEPS))
        check_counts(answer, expected[params["run"]], params["run"], params["tag"], steps)
    else:
        check_summary(answer, expected[params["run"]], params["run"], params["tag"])


def test_twenty_parallel_clients_get_correct_answers(hundred_runs, load_fast, start_tensorboard, request):
    logdir, expected = hundred_runs
    server = start_tensorboard(logdir, load_fast)

    def loaded(listing):
        return len(listing) == NUM_RUNS and all(
            len(tags) == len(TAGS) and all(entry.get("num_steps") == NUM_STEPS for entry in tags.values())
            for tags in listing.values()
        )

    server.wait_until(loaded, f"{PREFIX}/tags", timeout=120)
    load = Load()
    started = time.monotonic()
    threads = [
        threading.Thread(target=client, args=(server.url, seed, expected, started + TIME_LIMIT_SECONDS, load),
                         daemon=True)
        for seed in range(NUM_CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIME_LIMIT_SECONDS + REQUEST_TIMEOUT_SECONDS + 5)
    elapsed = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads), "a client did not stop by itself"

    latencies_ms = np.array(load.latencies) * 1000
    p50, p90, p99 = np.percentile(latencies_ms, [50, 90, 99])
    report = (
        f"\nconcurrency, {'rust' if load_fast else 'python'} loader: {len(load.latencies)} requests by "
        f"{NUM_CLIENTS} clients in {elapsed:.1f} s ({len(load.latencies) / elapsed:.1f} requests/s), "
        f"{len(load.errors)} errors; latency p50 {p50:.0f} ms, p90 {p90:.0f} ms, p99 {p99:.0f} ms, "
        f"max {latencies_ms.max():.0f} ms; by route {dict(sorted(load.by_route.items()))}"
    )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(report)
    assert load.errors == [], f"{len(load.errors)} wrong answers, e.g. {load.errors[:5]}"
    # Every client finished its requests within the time limit: the bound was not what stopped them.
    assert len(load.latencies) == NUM_CLIENTS * REQUESTS_PER_CLIENT, report
    assert "Traceback" not in server.log_text() and "tb_metrics:" not in server.log_text()
