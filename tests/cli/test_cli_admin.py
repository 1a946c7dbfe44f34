"""`timberyard orgs|projects|keys` against a real server."""

from __future__ import annotations

import json

import httpx

from serverproc import free_port

from .conftest import Live


def test_projects_create_list_update_delete(live: Live) -> None:
    made = live.run(
        "projects",
        "create",
        "--org",
        live.org,
        "shop",
        "--retention-days",
        "7",
        "--allowed-origin",
        "https://shop.example",
    )
    assert made.returncode == 0, made.stderr
    project = made.stdout.strip()
    assert project.startswith("prj_") and "created project 'shop'" in made.stderr

    listed = live.run("projects", "list", "--org", live.org)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(project))
    assert "shop" in row and "7d" in row and "https://shop.example" in row
    assert listed.stdout.startswith("ID ")

    off = live.run("projects", "update", project, "--inactive", "--retention-days", "3", "--json")
    assert off.returncode == 0, off.stderr
    assert json.loads(off.stdout).items() >= {"active": False, "retentionDays": 3}.items()

    everything = json.loads(live.run("projects", "list", "--json").stdout)
    assert {p["id"] for p in everything} >= {project, live.project}

    refused = live.run("projects", "delete", project)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    gone = live.run("projects", "delete", project, "--yes")
    assert gone.returncode == 0, gone.stderr
    assert project not in live.run("projects", "list", "--org", live.org).stdout


def test_keys_create_list_revoke(live: Live) -> None:
    made = live.run("keys", "create", live.project, "--kind", "ingest")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("ik_") and "shown only once" in made.stderr
    key_id = made.stderr.split("key ", 1)[1].split()[0]

    listed = live.run("keys", "list", live.project)
    row = next(line for line in listed.stdout.splitlines() if line.startswith(key_id))
    assert "ingest" in row and "active" in row and secret not in listed.stdout

    sent = httpx.post(
        f"{live.url}/v1/logs",
        json={"message": "with ik"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert sent.status_code == 200

    revoked = live.run("keys", "revoke", key_id)
    assert revoked.returncode == 0 and f"revoked {key_id}" in revoked.stderr
    keys = json.loads(live.run("keys", "list", live.project, "--json").stdout)
    assert next(k for k in keys if k["id"] == key_id)["revoked"] is True
    again = httpx.post(
        f"{live.url}/v1/logs",
        json={"message": "with ik"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert again.status_code == 401


def test_orgs_create_update_list(live: Live) -> None:
    made = live.run("orgs", "create", "globex", "--plan", "pro", "--json")
    assert made.returncode == 0, made.stderr
    org = json.loads(made.stdout)
    assert org["plan"] == "pro"
    changed = live.run("orgs", "update", org["id"], "--monthly-quota", "5000", "--rate-limit", "90")
    assert changed.returncode == 0, changed.stderr
    assert "5000" in changed.stdout and "90" in changed.stdout
    listed = live.run("orgs", "list")
    assert org["id"] in listed.stdout and "globex" in listed.stdout
    # With two organisations, `projects create` must be told which one.
    ambiguous = live.run("projects", "create", "nowhere")
    assert ambiguous.returncode == 2 and "--org" in ambiguous.stderr


def test_errors_are_one_line_with_an_exit_status(live: Live) -> None:
    port = free_port()
    down = live.run("projects", "list", "--url", f"http://127.0.0.1:{port}")
    assert down.returncode == 1
    assert down.stderr.strip() == (
        f"timberyard: error: cannot reach http://127.0.0.1:{port}: connection refused"
        " — is `timberyard serve` running?"
    )
    wrong = live.run("keys", "list", live.project, "--admin-token", "nope")
    assert wrong.returncode == 1 and "401: invalid admin token" in wrong.stderr
    missing = live.run("keys", "list", "prj_missing")
    assert missing.returncode == 1 and "404: project 'prj_missing' not found" in missing.stderr
    no_token = live.run("orgs", "list", TIMBERYARD_ADMIN_TOKEN="")
    assert no_token.returncode == 2 and "--admin-token" in no_token.stderr
    no_key = live.run("search", TIMBERYARD_KEY="")
    assert no_key.returncode == 2 and "--key" in no_key.stderr
    assert len(down.stderr.splitlines()) == 1 and "Traceback" not in wrong.stderr


def test_help_of_every_command(live: Live) -> None:
    top = live.run("--help").stdout
    for command in ("projects", "keys", "orgs", "search", "tail", "send", "import"):
        assert command in top
    for args in (
        ("projects", "create"),
        ("keys", "create"),
        ("search",),
        ("tail",),
        ("send",),
        ("import",),
        ("orgs", "update"),
    ):
        out = live.run(*args, "--help")
        assert out.returncode == 0 and "--url" in out.stdout, args
    assert "examples:" in live.run("send", "--help").stdout
    bare = live.run("keys")
    assert bare.returncode == 2 and "list" in bare.stderr
