"""`timberyard send` and `timberyard import` against a real server."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from .conftest import Live


def test_send_ndjson_from_stdin(live: Live) -> None:
    lines = [
        json.dumps({"message": f"stdin {i}", "level": "warn", "data": {"n": i}}) for i in range(5)
    ]
    done = live.run(
        "send", "--source", "stdin-svc", "--environment", "staging", stdin="\n".join(lines) + "\n\n"
    )
    assert done.returncode == 0, done.stderr
    assert "5 accepted, 0 rejected" in done.stderr
    got = live.wait_logs("service:stdin-svc", 5)
    assert sorted(e["fields"]["n"] for e in got) == [0, 1, 2, 3, 4]
    assert {e["level"] for e in got} == {"warn"} and {e["environment"] for e in got} == {"staging"}


def test_send_syslog_file_with_format_and_source(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "messages"
    path.write_text(
        "<165>1 2024-01-15T10:30:00.000Z myhost - 1234 - - Connection refused\n"
        "<34>Jan 15 10:30:00 myhost su[99]: 'su root' failed\n"
    )
    done = live.run(
        "send", "--format", "syslog", "--source", "sysd", "--environment", "production", str(path)
    )
    assert done.returncode == 0, done.stderr
    # RFC 3164's TAG is the source; the RFC 5424 line has no APP-NAME: --source fills it.
    by_message = {e["message"]: e for e in live.wait_logs("host:myhost", 2)}
    assert by_message["Connection refused"]["service"] == "sysd"
    assert by_message["Connection refused"]["level"] == "info"
    assert by_message["'su root' failed"]["service"] == "su"
    assert by_message["'su root' failed"]["level"] == "error"
    assert {e["environment"] for e in by_message.values()} == {"production"}


def test_csv_over_1000_rows_is_sent_in_chunks_with_its_header(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    rows = ["level,message,source,order"]
    rows += [f'info,"row {i}, with a comma",csv-svc,{i}' for i in range(2500)]
    rows.insert(7, 'error,"a message\nover two lines",csv-svc,multi')
    path.write_text("\n".join(rows) + "\n")
    done = live.run("send", str(path), "--json")
    assert done.returncode == 0, done.stderr
    totals = json.loads(done.stdout)
    assert totals["accepted"] == 2501 and totals["rejected"] == 0
    assert totals["requests"] == 3
    got = live.wait_logs("service:csv-svc", 2501)
    assert len(got) == 2501
    assert sorted(
        int(e["fields"]["order"]) for e in got if e["fields"]["order"] != "multi"
    ) == list(range(2500))
    assert any(e["message"] == "a message\nover two lines" for e in got)


def test_invalid_lines_give_reasons_and_a_failing_status(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        '{"message": "fine 1", "source": "mixed-svc"}\n'
        "this is not json\n"
        '{"message": "bad level", "level": "loud", "source": "mixed-svc"}\n'
        "\n"
        '{"message": "fine 2", "source": "mixed-svc"}\n'
        '{"source": "mixed-svc"}\n'
    )
    done = live.run("send", str(path))
    assert done.returncode == 1
    assert "2 accepted, 3 rejected" in done.stderr
    assert f"{path}:2: invalid JSON" in done.stderr
    assert f"{path}:3: unknown level 'loud'" in done.stderr
    assert f"{path}:6: message is required" in done.stderr
    got = live.wait_logs("service:mixed-svc", 2)
    assert sorted(e["message"] for e in got) == ["fine 1", "fine 2"]


def test_import_of_5000_lines_gzip_and_parallel(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "history.log.gz"
    text = "".join(
        f"2024-03-01 10:{i // 60 % 60:02d}:{i % 60:02d} {'ERROR' if i % 10 == 0 else 'INFO'}"
        f" historical event {i}\n"
        for i in range(5000)
    )
    path.write_bytes(gzip.compress(text.encode()))
    done = live.run(
        "import",
        str(path),
        "--format",
        "text",
        "--source",
        "history",
        "--dataset",
        "archive",
        "--concurrency",
        "3",
        "--progress",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    totals = json.loads(done.stdout)
    assert totals["accepted"] == 5000 and totals["requests"] == 5
    assert "imported 5,000 entries" in done.stderr  # the progress line
    got = live.wait_logs("service:history AND dataset:archive", 5000)
    assert len(got) == 5000
    assert sum(e["level"] == "error" for e in got) == 500
    assert got[0]["timestamp"] == 1709287200000  # 2024-03-01T10:00:00Z, from the text


def test_json_file_of_many_entries_is_split(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(
        json.dumps({"logs": [{"message": f"j{i}", "source": "json-svc"} for i in range(1500)]})
    )
    done = live.run("send", str(path), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["requests"] == 2
    assert len(live.wait_logs("service:json-svc", 1500)) == 1500


def test_unreachable_server_stops_with_one_line(live: Live, tmp_path: Path) -> None:
    from serverproc import free_port

    port = free_port()
    done = live.run(
        "send", "--url", f"http://127.0.0.1:{port}", "--timeout", "1", stdin='{"message": "x"}\n'
    )
    assert done.returncode == 1
    assert f"cannot reach http://127.0.0.1:{port}: connection refused" in done.stderr
