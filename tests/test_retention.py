"""Retention: per-project days, whole partitions dropped, deleted projects emptied."""

from __future__ import annotations

from typing import Any

from timberyard.clock import Clock

DAY = 86_400.0
NOW = 1_795_000_000.0


async def count(h: Any, key: str) -> int:
    await h.flushed()
    r = await h.client.get("/v1/logs", params={"limit": 1}, headers={"Authorization": f"Bearer {key}"})
    return r.json()["total"]


async def test_retention_by_project(make_harness: Any) -> None:
    clock = Clock(fixed=NOW - 40 * DAY)
    async with make_harness(clock=clock) as h:
        short, short_keys = h.new_project(retention_days=30)
        long, long_keys = h.new_project(retention_days=60)
        old_ts = int((NOW - 40 * DAY) * 1000)
        for keys in (short_keys, long_keys):
            r = await h.client.post("/v1/logs", json={"logs": [{"message": "old", "timestamp": old_ts}] * 5},
                                    headers={"Authorization": f"Bearer {keys['server']}"})
            assert r.status_code == 200
        clock.advance(39 * DAY)  # one day before now: entries arrive 40 days after the old ones
        for keys in (short_keys, long_keys):
            await h.client.post("/v1/logs", json={"logs": [{"message": "new"}] * 3},
                                headers={"Authorization": f"Bearer {keys['server']}"})
        await h.flushed()
        clock.advance(DAY)
        report = (await h.client.post("/v1/admin/retention", headers=h.admin)).json()
        # The old day holds both projects and one of them keeps it: rows are deleted, not the partition.
        assert report["droppedPartitions"] == []
        assert short["id"] in report["deletedBefore"] and long["id"] not in report["deletedBefore"]
        assert await count(h, short_keys["server"]) == 3
        assert await count(h, long_keys["server"]) == 8

        clock.advance(30 * DAY)  # now the old day has expired for both projects
        report = (await h.client.post("/v1/admin/retention", headers=h.admin)).json()
        assert len(report["droppedPartitions"]) == 1
        assert await count(h, long_keys["server"]) == 3


async def test_whole_partition_dropped(make_harness: Any) -> None:
    clock = Clock(fixed=NOW - 10 * DAY)
    async with make_harness(clock=clock) as h:
        project, keys = h.new_project(retention_days=7)
        ts = int((NOW - 10 * DAY) * 1000)
        logs = [{"message": "expired", "timestamp": ts}] * 3 + [
            {"message": "expired error", "level": "error", "timestamp": ts}]
        await h.client.post("/v1/logs", json={"logs": logs},
                            headers={"Authorization": f"Bearer {keys['server']}"})
        await h.flushed()
        # The harness' own project has no entries: the partition belongs to this project alone.
        clock.advance(10 * DAY)
        report = (await h.client.post("/v1/admin/retention", headers=h.admin)).json()
        day = "".join(__import__("time").strftime("%Y%m%d", __import__("time").gmtime(ts / 1000)))
        # Each day is two partitions: its errors and the rest (schema 3).
        assert report["droppedPartitions"] == [f"{day}-0", f"{day}-1"]
        assert await count(h, keys["server"]) == 0


async def test_imported_old_logs_are_kept_until_their_arrival_expires(harness: Any) -> None:
    await harness.client.post("/v1/logs", json={"logs": [{"message": "from 2024", "timestamp": "2024-01-15T10:30:00Z"}]},
                              headers=harness.auth())
    await harness.flushed()
    report = (await harness.client.post("/v1/admin/retention", headers=harness.admin)).json()
    assert report == {"droppedPartitions": [], "deletedBefore": {}}
    assert await count(harness, harness.keys["server"]) == 1


async def test_deleting_a_project_removes_its_data(harness: Any) -> None:
    h = harness
    project, keys = h.new_project()
    await h.client.post("/v1/logs", json={"logs": [{"message": "doomed"}] * 4}, headers={"Authorization": f"Bearer {keys['server']}"})
    await h.client.post("/v1/logs", json={"message": "kept"}, headers=h.auth())
    assert (await h.client.delete(f"/v1/admin/projects/{project['id']}", headers=h.admin)).status_code == 200
    rows = h.services.store.query(
        f"SELECT project_id, count() FROM {h.services.store.table} GROUP BY project_id")
    assert dict(rows) == {h.project["id"]: 1}
    assert (await h.client.get("/v1/admin/retention", headers=h.admin)).status_code == 405
