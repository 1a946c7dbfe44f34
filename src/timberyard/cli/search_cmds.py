"""`timberyard search` and `timberyard tail`: read a project's entries."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from .common import CliError, client, command, formatter, note, server_options
from .output import entry_line, print_json, use_colour

MAX_LIMIT = 1_000_000
# Lets `--from -1h` read "-1h" as a value: argparse takes it for an option otherwise.
RELATIVE_TIME = re.compile(r"^-\d+(\.\d+)?[A-Za-z]*$")

QUERY_HELP = (
    "query language: bare words search the message; field:value, level:>=warn,\n"
    "fields.user.id:42, service:api*, AND / OR / NOT, -term, (parentheses);\n"
    "a query that starts with '-' goes after '--': timberyard search -- -level:debug"
)


def register(sub: Any) -> None:
    """Add `search` and `tail`."""
    p = sub.add_parser(
        "search",
        help="search a project's entries",
        description="Search a project's entries and print them, newest first.",
        epilog=QUERY_HELP
        + "\n\nexamples:\n  timberyard search 'level:error AND service:api' --from -24h\n"
        "  timberyard search timeout --limit 5000 --json > out.ndjson",
        formatter_class=formatter(),
    )
    p._negative_number_matcher = RELATIVE_TIME
    p.add_argument("query", nargs="?", default="", metavar="QUERY", help="query (all entries)")
    p.add_argument(
        "--from",
        dest="since",
        default="-1h",
        metavar="WHEN",
        help="start: -15m, -24h, ISO 8601 or ms since the epoch (default -1h)",
    )
    p.add_argument(
        "--to",
        dest="until",
        default="now",
        metavar="WHEN",
        help="end, in the same forms (default now)",
    )
    p.add_argument(
        "--limit",
        type=int,
        default=100,
        metavar="N",
        help="entries to print; pages of 10000 are followed (default 100)",
    )
    p.add_argument(
        "--order",
        choices=("desc", "asc"),
        default="desc",
        help="newest first (desc, default) or oldest first (asc)",
    )
    _output_options(p)
    server_options(p, "key")
    p.set_defaults(handler=search)

    p = sub.add_parser(
        "tail",
        help="follow new entries as they arrive",
        description="Print matching entries as they are ingested, until Ctrl-C. "
        "Reconnects and resumes where it left off when the connection drops.",
        epilog=QUERY_HELP + "\n\nexamples:\n  timberyard tail 'level:>=warn'\n"
        "  timberyard tail --json service:checkout | jq .message",
        formatter_class=formatter(),
    )
    p.add_argument("query", nargs="?", default="", metavar="QUERY", help="query (all entries)")
    p.add_argument("--since-id", metavar="ID", help="resume after this entry id")
    _output_options(p)
    server_options(p, "key")
    p.set_defaults(handler=tail)


def _output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print each entry as one JSON line")
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the level (default: on a terminal)",
    )


def _printer(args: argparse.Namespace) -> Any:
    if args.json:
        return print_json
    colour = use_colour(sys.stdout, args.color)
    return lambda entry: sys.stdout.write(entry_line(entry, colour) + "\n")


@command
def search(args: argparse.Namespace) -> int:
    """Print the entries of a search, following cursors up to --limit."""
    if not 1 <= args.limit <= MAX_LIMIT:
        raise CliError(f"--limit must be from 1 to {MAX_LIMIT}, got {args.limit}", 2)
    show = _printer(args)
    count = 0
    with client(args) as api:
        pages = api.iter_logs(
            args.query,
            limit=args.limit,
            from_=args.since,
            to=args.until,
            order=args.order,
            total=False,
        )
        for entry in pages:
            show(entry)
            count += 1
    sys.stdout.flush()
    if sys.stderr.isatty() and not args.json:
        note(f"{count} entr{'y' if count == 1 else 'ies'}")
    return 0


@command
def tail(args: argparse.Namespace) -> int:
    """Follow the live tail until interrupted; Ctrl-C ends it with status 0."""
    show = _printer(args)

    def reconnecting(reason: str) -> None:
        if sys.stderr.isatty():
            note(f"({reason}; reconnecting)")

    with client(args) as api:
        try:
            for entry in api.tail(
                args.query, last_event_id=args.since_id, on_reconnect=reconnecting
            ):
                show(entry)
                sys.stdout.flush()
        except KeyboardInterrupt:
            return 0
    return 0
