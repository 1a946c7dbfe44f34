"""Real shippers send, unchanged, to a real server; their entries are searchable as documented."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from .conftest import CLIENTS, NODE_MODULES, ROOT, Shipped, run


def marker(name: str) -> str:
    return f"{name}{uuid.uuid4().hex[:8]}"


def node(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run(["node", str(CLIENTS / script), *args])


# -- Loki ------------------------------------------------------------------------------------

@pytest.mark.parametrize("json_mode", ["0", "1"], ids=["protobuf", "json"])
def test_winston_loki(shipped: Shipped, json_mode: str) -> None:
    mark = marker("winston")
    node("winston_loki.js", shipped.url, shipped.key, json_mode, mark)
    first, second = shipped.wait_for(mark, 2)
    assert {first["level"], second["level"]} == {"warn", "error"}
    for entry in (first, second):
        assert entry["service"] == "winston-app" and entry["environment"] == "ci" and entry["host"] == "node-host"
    warn = first if first["level"] == "warn" else second
    assert "42" in warn["message"]  # winston-loki writes the meta into the line
    assert shipped.search(f"{mark} AND level:error AND service:winston-app")


def test_pino_loki(shipped: Shipped) -> None:
    mark = marker("pino")
    lines = run(["node", str(CLIENTS / "pino_lines.js"), mark]).stdout
    done = run(["node", str(NODE_MODULES / "pino-loki" / "dist" / "cli.mjs"), "--hostname", shipped.url,
                "-u", "tenant", "-p", shipped.key, "-l", '{"app":"pino-app"}', "-i", "1"], input=lines)
    assert "error" not in done.stderr.lower(), done.stderr  # pino-loki exits 0 even when sending fails
    entries = shipped.wait_for(mark, 2)
    assert {e["level"] for e in entries} == {"info", "error"}
    assert all(e["service"] == "pino-app" and e["host"] == "pino-host" for e in entries)
    info = next(e for e in entries if e["level"] == "info")
    assert info["fields"]["requestId"] == "r-1"  # pino-loki's structured metadata (`meta`)


def test_python_logging_loki(shipped: Shipped) -> None:
    import logging_loki

    mark = marker("pyloki")
    handler = logging_loki.LokiHandler(url=f"{shipped.url}/loki/api/v1/push", tags={"service": "pyloki-svc"},
                                       auth=("tenant", shipped.key), version="1")
    failures: list[BaseException | None] = []
    handler.handleError = lambda record: failures.append(sys.exc_info()[1])  # type: ignore[method-assign]
    logger = logging.getLogger(f"test.{mark}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.error(f"{mark} broke", extra={"tags": {"env": "ci"}})
    logger.warning(f"{mark} slow")
    assert failures == []  # it raises on anything but 204
    entries = shipped.wait_for(mark, 2)
    assert {e["level"] for e in entries} == {"error", "warn"}
    assert all(e["service"] == "pyloki-svc" for e in entries)
    assert next(e for e in entries if e["level"] == "error")["environment"] == "ci"


def test_loki_logger_handler_gzip_json(shipped: Shipped) -> None:
    from loki_logger_handler.loki_logger_handler import LokiLoggerHandler

    mark = marker("lokihandler")
    handler = LokiLoggerHandler(url=f"{shipped.url}/loki/api/v1/push", auth=("tenant", shipped.key),
                                labels={"application": "lh-app", "environment": "ci", "service_name": "lh-svc"},
                                timeout=3600, enable_self_errors=True)
    logger = logging.getLogger(f"test.{mark}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.error(f"{mark} gzip json", extra={"orderId": 9})
    handler._send()  # flush now, not at the next timer tick
    [entry] = shipped.wait_for(mark, 1)
    assert entry["service"] == "lh-svc" and entry["environment"] == "ci" and entry["level"] == "error"
    assert mark in entry["message"] and entry["fields"]["application"] == "lh-app"


# -- Elasticsearch -----------------------------------------------------------------------------

@pytest.mark.parametrize("major", ["es7", "es8", "es9"])
def test_elasticsearch_python_clients(shipped: Shipped, major: str) -> None:
    python = ROOT / f".venv-{major}" / "bin" / "python"
    assert python.exists(), f"{python} is missing: run TIMBERYARD_SETUP_SYSTEM=1 ./scripts/setup"
    mark = marker(major)
    run([str(python), str(CLIENTS / "es_python.py"), shipped.url, shipped.key, mark])
    first, second = shipped.wait_for(mark, 2)
    assert (first["level"], second["level"]) == ("warn", "error")
    for entry in (first, second):
        assert entry["service"] == f"py-{major}" and entry["host"] == "py-host" and entry["dataset"] == f"{major}-logs"
    assert first["fields"] == {"order": {"id": 7}}
    assert shipped.search(f"{mark} AND fields.order.id:7")


def test_opensearch_py(shipped: Shipped) -> None:
    from opensearchpy import OpenSearch, helpers

    mark = marker("opensearch")
    client = OpenSearch(shipped.url, http_auth=("admin", shipped.key))
    docs = [{"_index": "os-logs", "_source": {"message": f"{mark} {n}", "level": "error", "service": "os-svc",
                                              "host": "os-host", "attempt": n}} for n in range(3)]
    ok, errors = helpers.bulk(client, docs)
    assert ok == 3 and not errors
    entries = shipped.wait_for(mark, 3)
    assert all(e["service"] == "os-svc" and e["host"] == "os-host" and e["level"] == "error" for e in entries)
    assert sorted(e["fields"]["attempt"] for e in entries) == [0, 1, 2]


def test_elastic_js_client(shipped: Shipped) -> None:
    mark = marker("esjs")
    node("elastic_js.js", shipped.url, shipped.key, mark)
    entries = shipped.wait_for(mark, 3)
    assert [e["level"] for e in entries] == ["warn", "error", "info"]
    assert all(e["service"] == "js-svc" and e["host"] == "js-host" and e["dataset"] == "js-logs" for e in entries)
    assert entries[0]["fields"] == {"http": {"status": 503}}


RSYSLOG_CONF = """
global(workDirectory="{work}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{socket}")
module(load="omelasticsearch")
action(type="omelasticsearch" server="127.0.0.1" serverport="{port}" searchIndex="rsyslog-logs"
       bulkmode="on" uid="rsyslog" pwd="{key}" errorFile="{work}/errors.json")
"""


def test_rsyslog_omelasticsearch(shipped: Shipped, tmp_path: Path) -> None:
    mark = marker("rsyslog")
    socket = tmp_path / "log.sock"
    port = shipped.url.rsplit(":", 1)[1]
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=tmp_path, socket=socket, port=port, key=shipped.key))
    daemon = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while not socket.exists():
            assert daemon.poll() is None and time.monotonic() < deadline, "rsyslogd did not start"
            time.sleep(0.1)
        run(["logger", "-u", str(socket), "-t", "billing", "-p", "user.err", f"{mark} card declined"])
        run(["logger", "-u", str(socket), "-t", "billing", "-p", "user.notice", f"{mark} retried"])
        entries = shipped.wait_for(mark, 2)
    finally:
        daemon.terminate()
        output = daemon.communicate(timeout=20)[0]
    assert [e["level"] for e in entries] == ["error", "info"], output
    assert all(e["host"] and e["dataset"] == "rsyslog-logs" for e in entries)
    assert entries[0]["fields"]["facility"] == "user"
    assert not (tmp_path / "errors.json").exists(), (tmp_path / "errors.json").read_text()


def test_real_server_refuses_bad_shipments_and_keeps_serving(shipped: Shipped) -> None:
    import httpx

    auth = {"Authorization": f"Bearer {shipped.key}"}
    mark = marker("rejected")
    cases = [
        ("/loki/api/v1/push", "application/x-protobuf", b"\x10" + mark.encode(), 400, "text/plain"),
        ("/loki/api/v1/push", "application/json", b'{"streams": [{"stream": {}, "values": [["1", "' + mark.encode(), 400,
         "text/plain"),
        ("/_bulk", NDJSON_TYPE, b'{"index": {"_index": "x"}}\n{"message": "' + mark.encode() + b'"}\n{"create": {}}\n', 400,
         "application/json"),
    ]
    for path, content_type, body, status, shape in cases:
        r = httpx.post(shipped.url + path, content=body, headers={**auth, "Content-Type": content_type}, timeout=10)
        assert r.status_code == status and r.headers["content-type"].startswith(shape), r.text
    good = httpx.post(shipped.url + "/_bulk", content=b'{"index": {"_index": "x"}}\n{"message": "' + mark.encode() + b' ok"}\n',
                      headers={**auth, "Content-Type": NDJSON_TYPE}, timeout=10)
    assert good.status_code == 200 and good.json()["errors"] is False
    [entry] = shipped.wait_for(mark, 1)
    assert entry["message"].endswith(" ok")  # nothing of the rejected requests was stored


NDJSON_TYPE = "application/x-ndjson"
