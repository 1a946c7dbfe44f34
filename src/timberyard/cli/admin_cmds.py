"""Management subcommands over HTTP: `orgs`, `projects`, `keys`; registers the data commands."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..client import AdminClient
from . import search_cmds, send_cmds
from .common import CliError, admin_client, command, formatter, note, server_options
from .output import print_json, print_table, when

PLANS = ("free", "pro", "enterprise")
KINDS = ("server", "ingest", "read", "public")


def register(sub: Any) -> None:
    """Add `orgs`, `projects`, `keys`, `search`, `tail`, `send` and `import`."""
    _register_orgs(sub)
    _register_projects(sub)
    _register_keys(sub)
    search_cmds.register(sub)
    send_cmds.register(sub)


def _leaf(group: Any, name: str, help_text: str, epilog: str | None = None) -> Any:
    parser = group.add_parser(
        name, help=help_text, description=help_text, epilog=epilog, formatter_class=formatter()
    )
    server_options(parser, "admin")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _group(sub: Any, name: str, help_text: str, epilog: str) -> Any:
    parser = sub.add_parser(
        name, help=help_text, description=help_text, epilog=epilog, formatter_class=formatter()
    )
    parser.set_defaults(handler=lambda args: _usage(parser))
    return parser.add_subparsers(dest="action", metavar="ACTION")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


# -- organisations --


def _register_orgs(sub: Any) -> None:
    group = _group(
        sub,
        "orgs",
        "manage organisations (admin token)",
        "examples:\n  timberyard orgs list\n  timberyard orgs create acme --plan pro\n"
        "  timberyard orgs update org_123 --monthly-quota 5000000 --rate-limit 1200",
    )
    p = _leaf(group, "list", "list organisations")
    p.set_defaults(handler=orgs_list)
    p = _leaf(group, "create", "create an organisation; prints its id")
    p.add_argument("name", help="name of the organisation")
    p.add_argument("--plan", choices=PLANS, help="plan (default free)")
    p.set_defaults(handler=orgs_create)
    p = _leaf(group, "update", "change an organisation's plan, quota or rate limit")
    p.add_argument("org", help="organisation id")
    p.add_argument("--plan", choices=PLANS, help="new plan")
    p.add_argument("--monthly-quota", type=int, metavar="N", help="entries per month")
    p.add_argument("--rate-limit", type=int, metavar="N", help="requests per minute")
    p.set_defaults(handler=orgs_update)


def _org_rows(orgs: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            o["id"],
            o["name"],
            o["plan"],
            o.get("monthlyQuota"),
            o.get("rateLimitPerMinute"),
            when(o.get("createdAt")),
        ]
        for o in orgs
    ]


ORG_HEADERS = ("ID", "NAME", "PLAN", "QUOTA", "RATE/MIN", "CREATED")


@command
def orgs_list(args: argparse.Namespace) -> int:
    """Print every organisation."""
    with admin_client(args) as admin:
        orgs = admin.organisations()
    if args.json:
        print_json(orgs)
    else:
        print_table(_org_rows(orgs), ORG_HEADERS)
    return 0


@command
def orgs_create(args: argparse.Namespace) -> int:
    """Create an organisation and print its id."""
    with admin_client(args) as admin:
        org = admin.create_organisation(args.name, args.plan)
    if args.json:
        print_json(org)
    else:
        note(f"created organisation {org['name']!r} on the {org['plan']} plan")
        print(org["id"])
    return 0


@command
def orgs_update(args: argparse.Namespace) -> int:
    """Change an organisation and print it."""
    if args.plan is None and args.monthly_quota is None and args.rate_limit is None:
        raise CliError("nothing to change: give --plan, --monthly-quota or --rate-limit", 2)
    with admin_client(args) as admin:
        org = admin.update_organisation(args.org, args.plan, args.monthly_quota, args.rate_limit)
    if args.json:
        print_json(org)
    else:
        print_table(_org_rows([org]), ORG_HEADERS)
    return 0


# -- projects --


def _register_projects(sub: Any) -> None:
    group = _group(
        sub,
        "projects",
        "manage projects (admin token)",
        "examples:\n  timberyard projects list --org org_123\n"
        "  timberyard projects create --org org_123 web --retention-days 14 \\\n"
        "      --allowed-origin https://example.com --allowed-origin '*.example.com'\n"
        "  timberyard projects update prj_456 --inactive\n"
        "  timberyard projects delete prj_456 --yes",
    )
    p = _leaf(group, "list", "list projects (of every organisation unless --org)")
    p.add_argument("--org", help="organisation id")
    p.set_defaults(handler=projects_list)
    p = _leaf(group, "create", "create a project; prints its id")
    p.add_argument("name", help="name of the project")
    p.add_argument("--org", help="organisation id (needed when there is more than one)")
    p.add_argument("--retention-days", type=int, metavar="N", help="days to keep entries (30)")
    p.add_argument(
        "--allowed-origin",
        action="append",
        metavar="ORIGIN",
        dest="origins",
        help="browser origin allowed to send with a public key (repeatable)",
    )
    p.set_defaults(handler=projects_create)
    p = _leaf(group, "update", "activate, deactivate or change a project")
    p.add_argument("project", help="project id")
    active = p.add_mutually_exclusive_group()
    active.add_argument("--active", dest="active", action="store_true", default=None)
    active.add_argument("--inactive", dest="active", action="store_false", default=None)
    p.add_argument("--retention-days", type=int, metavar="N", help="days to keep entries")
    p.add_argument("--name", help="new name")
    p.add_argument(
        "--allowed-origin",
        action="append",
        metavar="ORIGIN",
        dest="origins",
        help="replace the allowed browser origins (repeatable)",
    )
    p.set_defaults(handler=projects_update)
    p = _leaf(group, "delete", "delete a project with its keys and entries")
    p.add_argument("project", help="project id")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=projects_delete)


PROJECT_HEADERS = ("ID", "NAME", "ORG", "ACTIVE", "RETENTION", "ORIGINS", "CREATED")


def _project_rows(projects: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            p["id"],
            p["name"],
            p.get("organisation"),
            p.get("active"),
            f"{p.get('retentionDays')}d",
            p.get("allowedOrigins"),
            when(p.get("createdAt")),
        ]
        for p in projects
    ]


@command
def projects_list(args: argparse.Namespace) -> int:
    """Print the projects of one or every organisation."""
    with admin_client(args) as admin:
        orgs = [args.org] if args.org else [o["id"] for o in admin.organisations()]
        projects = [p for org in orgs for p in admin.projects(org)]
    if args.json:
        print_json(projects)
    else:
        print_table(_project_rows(projects), PROJECT_HEADERS)
    return 0


def _only_org(admin: AdminClient) -> str:
    orgs = admin.organisations()
    if len(orgs) == 1:
        return str(orgs[0]["id"])
    if not orgs:
        raise CliError("there is no organisation yet: create one with `timberyard orgs create`")
    ids = ", ".join(o["id"] for o in orgs[:5])
    raise CliError(f"there are {len(orgs)} organisations: name one with --org ({ids}, ...)", 2)


@command
def projects_create(args: argparse.Namespace) -> int:
    """Create a project and print its id."""
    with admin_client(args) as admin:
        org = args.org or _only_org(admin)
        project = admin.create_project(org, args.name, args.retention_days, args.origins)
    if args.json:
        print_json(project)
    else:
        note(f"created project {project['name']!r} in {org}")
        print(project["id"])
    return 0


@command
def projects_update(args: argparse.Namespace) -> int:
    """Change a project and print it."""
    if (
        args.active is None
        and args.retention_days is None
        and args.origins is None
        and args.name is None
    ):
        raise CliError(
            "nothing to change: give --active, --inactive, --retention-days,"
            " --allowed-origin or --name",
            2,
        )
    with admin_client(args) as admin:
        project = admin.update_project(
            args.project, args.active, args.retention_days, args.origins, args.name
        )
    if args.json:
        print_json(project)
    else:
        print_table(_project_rows([project]), PROJECT_HEADERS)
    return 0


@command
def projects_delete(args: argparse.Namespace) -> int:
    """Delete a project after confirmation (or --yes)."""
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(f"refusing to delete {args.project} without --yes", 2)
        answer = input(f"delete project {args.project} with all its keys and entries? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            note("nothing deleted")
            return 1
    with admin_client(args) as admin:
        result = admin.delete_project(args.project)
    if args.json:
        print_json(result)
    else:
        note(f"deleted project {args.project}")
    return 0


# -- keys --


def _register_keys(sub: Any) -> None:
    group = _group(
        sub,
        "keys",
        "manage API keys (admin token)",
        "kinds: server (sk_, ingest + read), ingest (ik_), read (rk_),\n"
        "       public (pk_, browser ingestion from allowed origins)\n\n"
        "examples:\n  timberyard keys list prj_456\n"
        "  KEY=$(timberyard keys create prj_456 --kind ingest)\n"
        "  timberyard keys revoke key_789",
    )
    p = _leaf(group, "list", "list a project's keys (without secrets)")
    p.add_argument("project", help="project id")
    p.set_defaults(handler=keys_list)
    p = _leaf(group, "create", "create a key; prints the secret, shown only this once")
    p.add_argument("project", help="project id")
    p.add_argument("--kind", choices=KINDS, default="server", help="scope of the key (server)")
    p.set_defaults(handler=keys_create)
    p = _leaf(group, "revoke", "revoke a key at once")
    p.add_argument("key_id", metavar="KEY_ID", help="key id (key_...), as `keys list` shows")
    p.set_defaults(handler=keys_revoke)


@command
def keys_list(args: argparse.Namespace) -> int:
    """Print a project's keys."""
    with admin_client(args) as admin:
        keys = admin.keys(args.project)
    if args.json:
        print_json(keys)
        return 0
    rows = [
        [
            k["id"],
            k["kind"],
            k.get("hint"),
            when(k.get("createdAt")),
            "revoked " + when(k.get("revokedAt")) if k.get("revoked") else "active",
        ]
        for k in keys
    ]
    print_table(rows, ("ID", "KIND", "HINT", "CREATED", "STATUS"))
    return 0


@command
def keys_create(args: argparse.Namespace) -> int:
    """Create a key and print its secret once."""
    with admin_client(args) as admin:
        created = admin.create_key(args.project, args.kind)
    if args.json:
        print_json(created)
    else:
        note(f"created {created['kind']} key {created['id']} for {args.project};")
        note("the secret below is shown only once: store it now")
        print(created["key"])
    return 0


@command
def keys_revoke(args: argparse.Namespace) -> int:
    """Revoke a key."""
    with admin_client(args) as admin:
        admin.revoke_key(args.key_id)
    if args.json:
        print_json({"id": args.key_id, "revoked": True})
    else:
        note(f"revoked {args.key_id}")
    return 0
