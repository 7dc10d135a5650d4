"""Route fuzzing: every route of the plugin, with random and hostile query strings, through
TensorBoard's real WSGI app and data provider on both loaders (logs of real Keras fits).

What must hold for every request (`check_answer`):
- no 5xx: a hostile query is the client's fault, never a crash of the plugin;
- every 4xx is a JSON `{"error": <non-empty message>}` without a traceback;
- every 200 is well formed (strict JSON with the shape of its route, a CSV / JSON attachment, or
  the frontend bundle `index.js`) and answers a query that was valid: no unknown or repeated
  parameter, a step and a threshold in range.

Queries come from hypothesis (random keys, values and raw bytes around the real run and tag names)
and from a fixed list of known-hostile values tried in every parameter of every route. The number
of requests tried is printed at the end of the module.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import urllib.parse
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.plugins import base_plugin
from werkzeug.test import Client

from tb_metrics_plugin import metadata, plugin, wire
from tests.conftest import InProcessTensorBoard

pytestmark = pytest.mark.slow  # thousands of requests per loader

PREFIX = f"/data/plugin/{metadata.PLUGIN_NAME}"
DATA_ROUTES = ("tags", "counts", "summary", "export")
# The parameters each route takes (docs/routes.md); anything else must be refused.
ROUTE_PARAMETERS = {
    "tags": set(),
    "counts": {"run", "tag", "step"},
    "summary": {"run", "tag"},
    "export": {"run", "tag", "step", "threshold", "format", "content"},
    "index.js": set(),
}
RUNS = ("binary/train", "binary/validation", "digits/validation")
TAGS = ("threshold_curves", "confusion_matrix")
# Run/tag pairs whose requests are cheap enough to try thousands of times (a 10-class export of the
# raw counts is 29,000 records: tried by the fixed list, not by the random ones).
CHEAP_RUNS = ("binary/train", "binary/validation")
HUGE = "9" * 100_000  # a 100 kB value
HOSTILE_VALUES = [
    "", " ", "-1", "-0", "+1", "0x10", "1e3", "1.5", "1,2", "١", "²", "NaN", "nan", "-nan", "inf", "-inf",
    "Infinity", "1e400", "-1e-400", "1e-400", str(10**12), str(10**18), str(10**19), str(2**63), str(-(2**63)),
    "0" * 40 + "1", "2\n", "\t0.5 ", "0.5\x00", "../", "..%2f", "%2e%2e%2f", "..\\..\\", "/etc/passwd",
    "../../../../etc/passwd", "binary/validation/../train", "binary%2Fvalidation", "binary/validation\x00",
    "<script>alert(1)</script>", "\"'`;--", "%s%s%n", "{}", "[]", "null", "true", "\u202eRTL\u202c", "😀" * 50,
    "\ufffd", "\ud800", "csv\x00json", "CSV", "json ", "counts", "metrics", "COUNTS", HUGE, "a" * 100_000,
]
RAW_QUERIES = [
    # (query string as the bytes a client sent, without percent-encoding where they are not UTF-8)
    b"run=\xff\xfe&tag=threshold_curves",
    b"run=binary/validation&tag=\xed\xa0\x80",  # an encoded lone surrogate
    b"run=binary/validation&tag=threshold_curves&step=\xc3",
    b"\xff=1",
    b"run=%ff%fe&tag=%ED%A0%80",
    b"run=binary/validation&tag=threshold_curves&format=csv&threshold=%00",
    b"&&&=&==&run=&tag=",
    b"run=binary%2Fvalidation&tag=threshold%5Fcurves&step=%30",
    b"run=binary/validation;tag=threshold_curves",
    b"run=binary/validation&tag=threshold_curves&step=1&step=1",
    b"run=binary/validation&run=binary/validation&tag=threshold_curves",
    b"%",
    b"%%%%%%",
    b"run=%zz&tag=%",
    b"run=" + b"%ff" * 30_000,
    b"a=" + b"&b=" * 20_000,
]
UNKNOWN_NAMES = ["stpe", "RUN", "run ", "run[]", "experiment", "", "tag\x00", "threshold.", "😀", "a" * 1000]

with open(plugin.INDEX_JS, "rb") as _bundle:
    INDEX_JS = _bundle.read()
_SAFE_ATTACHMENT = re.compile(r'attachment; filename="tb_metrics_[A-Za-z0-9._-]+\.(csv|json)"')
_TRIED: Counter = Counter()  # requests tried, by loader
_STATUSES: Counter = Counter()  # (loader, status) of those requests


@pytest.fixture(scope="module", params=[False, True], ids=["python_loader", "rust_loader"])
def board(request, fitted_logs):
    """The real app on the fitted logs, once every step of every tag is loaded."""
    board = InProcessTensorBoard(fitted_logs.logdir, load_fast=request.param)
    board.loader = "rust_loader" if request.param else "python_loader"
    deadline = time.monotonic() + 60
    while True:
        listing = board.client.get(f"{PREFIX}/tags").get_json()
        steps = [listing.get(run, {}).get(tag, {}).get("num_steps") for run in RUNS for tag in TAGS]
        if steps == [fitted_logs.epochs] * len(steps):
            break
        assert time.monotonic() < deadline, f"data not loaded in 60 s: {listing}"
        time.sleep(0.3)
    started = time.monotonic()
    yield board
    elapsed = time.monotonic() - started
    board.close()
    statuses = ", ".join(
        f"{status}: {count}" for (loader, status), count in sorted(_STATUSES.items()) if loader == board.loader
    )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"\nroute fuzzing, {board.loader}: {_TRIED[board.loader]} requests in {elapsed:.1f} s ({statuses})"
            )


# Sending a request and checking its answer ------------------------------------------------------


def send(board, path: str, query: bytes = b""):
    """GETs `path` (already percent-encoded) with `query` as the raw bytes of the query string."""
    response = board.client.get(path, environ_overrides={"QUERY_STRING": query.decode("latin-1")})
    _TRIED[board.loader] += 1
    _STATUSES[board.loader, response.status_code] += 1
    return response


def encode_query(pairs) -> bytes:
    """`pairs` of (name, value) as a query string; a value given as bytes is sent as it is."""
    parts = []
    for name, value in pairs:
        name_bytes = urllib.parse.quote(name, safe="").encode("ascii")
        if isinstance(value, bytes):
            value_bytes = value
        else:
            value_bytes = urllib.parse.quote(value.encode("utf-8", "surrogatepass"), safe="/").encode("ascii")
        parts.append(name_bytes + b"=" + value_bytes)
    return b"&".join(parts)


def check_answer(response, route: str, query: bytes = b"") -> None:
    """The invariants of the module docstring, for one answer of `route`."""
    status = response.status_code
    body = response.get_data()
    context = f"{route}?{query[:300]!r} -> {status} {body[:300]!r}"
    assert status < 500, context
    if status != 200:
        assert 400 <= status < 500, context
        assert response.mimetype == "application/json", context
        answer = strict_json(body)
        assert isinstance(answer, dict) and set(answer) == {"error"}, context
        assert isinstance(answer["error"], str) and answer["error"].strip(), context
        assert "Traceback" not in answer["error"] and 'File "' not in answer["error"], context
        return
    if route not in DATA_ROUTES:  # index.js: the bundle, nothing else
        assert body == INDEX_JS, context
        assert response.mimetype == "text/javascript", context
        return
    pairs = _query_pairs(query)
    names = [name for name, _ in pairs]
    # A 200 answers a valid query: only the route's parameters, each at most once, values in range.
    assert set(names) <= ROUTE_PARAMETERS[route] and len(names) == len(set(names)), context
    values = dict(pairs)
    if "step" in values:
        assert re.fullmatch(r"[0-9]+", values["step"]), context
    if "threshold" in values:
        assert 0.0 <= float(values["threshold"]) <= 1.0, context
    if route == "export":
        check_export(response, values, context)
        return
    assert response.mimetype == "application/json", context
    answer = strict_json(body)
    if route == "tags":
        assert set(answer) == set(RUNS), context
        for tags in answer.values():
            for entry in tags.values():
                assert entry["num_steps"] == len(entry["steps"]), context
        return
    assert answer["run"] == values["run"] and answer["tag"] == values["tag"], context
    if "step" in values:
        assert answer["steps"] == [int(values["step"])], context
    if route == "counts":
        arrays = ("thresholds", "positive", "negative") if answer["kind"] == "threshold_curves" else ("matrix",)
        for name in arrays:
            assert wire.decode_array(answer[name]).shape[0] == len(answer["steps"]), context
    else:
        assert isinstance(answer["series"], dict) and answer["series"], context


def check_export(response, values, context: str) -> None:
    assert values["format"] in ("csv", "json") and values.get("content", "metrics") in ("metrics", "counts"), context
    assert _SAFE_ATTACHMENT.fullmatch(response.headers["Content-Disposition"]), context
    text = response.get_data(as_text=True)
    if values["format"] == "json":
        assert response.mimetype == "application/json", context
        records = strict_json(response.get_data())
    else:
        assert response.mimetype == "text/csv", context
        records = list(csv.DictReader(io.StringIO(text)))
    assert isinstance(records, list) and records, context
    assert {record["run"] for record in records} == {values["run"]}, context
    if "step" in values:
        assert {int(record["step"]) for record in records} == {int(values["step"])}, context


def strict_json(body: bytes):
    """JSON as RFC 8259 has it: NaN and Infinity are not JSON."""

    def refuse(constant):
        raise AssertionError(f"{constant} in a JSON answer")

    return json.loads(body, parse_constant=refuse)


def _query_pairs(query: bytes) -> list[tuple[str, str]]:
    # How werkzeug reads a query: UTF-8, `&`-separated, `+` is a space.
    return urllib.parse.parse_qsl(query.decode("utf-8"), keep_blank_values=True)


def valid_query(route: str, run: str = "binary/validation", tag: str = "threshold_curves") -> dict[str, str]:
    if route in ("tags", "index.js"):
        return {}
    return {"run": run, "tag": tag, **({"format": "csv"} if route == "export" else {})}


# The fixed list of known-hostile cases ----------------------------------------------------------


@pytest.mark.parametrize("route", [*DATA_ROUTES, "index.js"])
def test_hostile_values_in_every_parameter(board, route):
    """Each hostile value replaces, repeats or adds each parameter of an otherwise valid query."""
    base = valid_query(route)
    before = _TRIED[board.loader]
    for name in sorted(ROUTE_PARAMETERS[route] | {"run", "step"}):
        for value in HOSTILE_VALUES:
            replaced = {**base, name: value}
            check_answer(send(board, f"{PREFIX}/{route}", query := encode_query(replaced.items())), route, query)
            repeated = [*base.items(), (name, value)]
            check_answer(send(board, f"{PREFIX}/{route}", query := encode_query(repeated)), route, query)
        missing = {key: value for key, value in base.items() if key != name}
        check_answer(send(board, f"{PREFIX}/{route}", query := encode_query(missing.items())), route, query)
    for name in UNKNOWN_NAMES:
        query = encode_query([*base.items(), (name, "1")])
        response = send(board, f"{PREFIX}/{route}", query)
        check_answer(response, route, query)
        assert response.status_code == 400, query[:200]
    for query in RAW_QUERIES:
        check_answer(send(board, f"{PREFIX}/{route}", query), route, query)
    assert _TRIED[board.loader] - before >= len(RAW_QUERIES) + len(UNKNOWN_NAMES)


def test_raw_bytes_that_are_not_utf8_are_a_400(board):
    """A browser percent-encodes; a raw non-UTF-8 byte in the query string is a client error."""
    for route in (*DATA_ROUTES, "index.js"):
        for query in (b"run=\xff", b"\xfe\xff=1", b"run=binary/validation&tag=threshold_curves&step=\xc3"):
            response = send(board, f"{PREFIX}/{route}", query)
            check_answer(response, route, query)
            assert response.status_code == 400, (route, query)
            assert "UTF-8" in response.get_json()["error"]


def test_every_valid_query_is_answered(board):
    """The valid corner of the same space: every run, tag, step, threshold, format and content."""
    for run in RUNS:
        for tag in TAGS:
            for step in ("2",):
                for route in ("counts", "summary"):
                    query = encode_query({**valid_query(route, run, tag), **({"step": step} if route == "counts"
                                                                                 else {})}.items())
                    response = send(board, f"{PREFIX}/{route}", query)
                    check_answer(response, route, query)
                    assert response.status_code == 200, response.get_data()[:300]
                for export_format in ("csv", "json"):
                    for extra in ({}, {"content": "counts"}, {"threshold": "0"}, {"threshold": "1"},
                                  {"threshold": "0.37"}):
                        if "threshold" in extra and tag == "confusion_matrix":
                            continue
                        query = encode_query({"run": run, "tag": tag, "format": export_format, "step": step,
                                              **extra}.items())
                        response = send(board, f"{PREFIX}/export", query)
                        check_answer(response, "export", query)
                        assert response.status_code == 200, response.get_data()[:300]


def test_the_experiment_prefixed_routes_behave_the_same(board):
    """TensorBoard also serves plugin routes under /experiment/<id>/; hostile ids change nothing."""
    for experiment in ("", "x", "..", "%2e%2e", "%00", "😀", "a" * 5000):
        for route in (*DATA_ROUTES, "index.js"):
            path = f"/experiment/{urllib.parse.quote(experiment, safe='%')}{PREFIX}/{route}"
            query = encode_query(valid_query(route).items())
            response = send(board, path, query)
            check_answer(response, route, query)


def test_made_up_experiment_ids_do_not_grow_the_caches(board):
    """Any client can send new experiment ids (in the path or a header); the plugin's caches keep
    only the last few experiments, and every answer is still right."""
    direct = plugin.MetricsPlugin(base_plugin.TBContext(data_provider=board.data_provider))
    summary = Client(direct.summary_route)
    expected = None
    for number in range(3 * plugin.MAX_CACHED_EXPERIMENTS):
        environ = {"HTTP_TENSORBOARD_EXPERIMENT_ID": f"made-up-{number}"}
        response = summary.get("/?run=binary/validation&tag=threshold_curves", environ_overrides=environ)
        _TRIED[board.loader] += 1
        _STATUSES[board.loader, response.status_code] += 1
        check_answer(response, "summary", b"run=binary/validation&tag=threshold_curves")
        expected = expected or response.get_json()
        assert response.get_json() == expected
        assert len(direct._caches) <= plugin.MAX_CACHED_EXPERIMENTS
    for number in range(3):  # through the app, in the path and in the header
        for response in (
            send(board, f"/experiment/made-up-{number}{PREFIX}/summary", b"run=binary/validation&tag=threshold_curves"),
            board.client.get(f"{PREFIX}/summary?run=binary/validation&tag=threshold_curves",
                             headers={"Tensorboard-Experiment-Id": f"made-up-{number}"}),
        ):
            check_answer(response, "summary", b"run=binary/validation&tag=threshold_curves")
            assert response.get_json() == expected


# Random queries ---------------------------------------------------------------------------------

_names = st.one_of(
    st.sampled_from(["run", "tag", "step", "threshold", "format", "content"]),
    st.sampled_from(UNKNOWN_NAMES),
    st.text(max_size=8),
)
_numbers = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=0, max_value=1).map(str),
    st.sampled_from(["0", "1", "2", "3", str(10**12)]),
)
_values = st.one_of(
    st.sampled_from(RUNS + TAGS + ("csv", "json", "metrics", "counts")),
    _numbers,
    st.sampled_from(HOSTILE_VALUES),
    st.text(max_size=40),
    st.binary(max_size=12),  # raw bytes, sent as they are (mostly not UTF-8)
    st.builds(lambda char, size: char * size, st.characters(), st.integers(1, 100_000)),
)


@st.composite
def _queries(draw):
    """A query built from a valid one for the route, with random changes (or from nothing)."""
    route = draw(st.sampled_from([*DATA_ROUTES, "index.js"]))
    run = draw(st.sampled_from(CHEAP_RUNS))
    pairs = list(valid_query(route, run, draw(st.sampled_from(TAGS))).items()) if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 3))):
        change = draw(st.sampled_from(["add", "replace", "drop"]))
        if change == "drop" and pairs:
            pairs.pop(draw(st.integers(0, len(pairs) - 1)))
        elif change == "replace" and pairs:
            position = draw(st.integers(0, len(pairs) - 1))
            pairs[position] = (pairs[position][0], draw(_values))
        else:
            pairs.append((draw(_names), draw(_values)))
    if route == "export" and any(name == "content" and value == "counts" for name, value in pairs):
        pairs.append(("step", "2"))  # keeps a raw-count export small; a repeat is refused anyway
    return route, encode_query(pairs)


@settings(max_examples=700, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(case=_queries())
def test_random_queries(board, case):
    route, query = case
    check_answer(send(board, f"{PREFIX}/{route}", query), route, query)


def test_enough_requests_were_tried(board, request):
    """Runs last in the module for each loader: the fuzzing above really sent thousands of requests."""
    selected = {item.name for item in request.session.items if getattr(item, "module", None) is request.module}
    fuzzers = {f"test_random_queries[{board.loader}]", f"test_hostile_values_in_every_parameter[{board.loader}-export]"}
    if not fuzzers <= selected:
        pytest.skip("only part of the module was selected")
    assert _TRIED[board.loader] >= 2000, _TRIED
    assert not any(status >= 500 for (loader, status) in _STATUSES if loader == board.loader), _STATUSES
