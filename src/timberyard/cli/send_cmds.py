"""`timberyard send` and `timberyard import`: ship files or stdin to POST /v1/logs."""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from typing import Any

from ..client import Backoff
from .common import CliError, client, command, formatter, note, server_options
from .inputs import STDIN, Options, chunks_of, plain_size
from .output import print_json
from .progress import Progress
from .shipper import Shipper, Totals

FORMATS = ("jsonl", "syslog", "text", "csv", "json", "obl")
# Seed 003's query defaults for entries that lack the field.
DEFAULTS = ("source", "environment", "level", "dataset")

FORMAT_HELP = (
    "formats: jsonl (one JSON object per line), syslog (RFC 5424/3164), text (one\n"
    "entry per line, timestamp and level extracted), csv (header row of field\n"
    'names, kept in every request), json ({"logs": [...]}, an array or one object)\n'
    "and obl (Open Board Logging). Without --format it is guessed from the file\n"
    "extension (.jsonl .ndjson .json .csv .tsv .txt .syslog .obl, also .gz), else\n"
    "from the first line.\n\n"
    "Line formats are sent in requests of at most 1000 entries (--batch-size) and\n"
    "about 5 MB. A line the server cannot parse is reported and left out; the\n"
    "rest is sent. The exit status is 1 when anything was rejected or failed."
)


def register(sub: Any) -> None:
    """Add `send` and `import`."""
    p = sub.add_parser(
        "send",
        help="send log lines from stdin or files",
        description="Send entries from files, or from stdin when no file is given.",
        epilog=FORMAT_HELP + "\n\nexamples:\n"
        "  app | timberyard send --format text --source app --environment production\n"
        "  timberyard send --format syslog --source nginx /var/log/nginx/error.log\n"
        "  timberyard send events.csv errors.jsonl",
        formatter_class=formatter(),
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="files to send ('-' for stdin)")
    _shared_options(p)
    p.set_defaults(handler=send, concurrency=1, gzip=False, verb="sent")

    p = sub.add_parser(
        "import",
        help="import large historical files (parallel, compressed)",
        description="Import large files: like `send`, with several requests in flight,"
        " gzip-compressed request bodies and a progress line.",
        epilog=FORMAT_HELP + "\n\nexamples:\n"
        "  timberyard import --source api archive/2024-*.jsonl.gz\n"
        "  timberyard import --format text --source legacy --concurrency 8 old.log",
        formatter_class=formatter(),
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="files to import ('-' for stdin)")
    _shared_options(p)
    p.add_argument(
        "--concurrency", type=int, default=4, metavar="N", help="requests in flight (default 4)"
    )
    p.add_argument(
        "--no-gzip", dest="gzip", action="store_false", help="send request bodies uncompressed"
    )
    p.set_defaults(handler=send, gzip=True, verb="imported")


def _shared_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, help="format of the input (guessed if omitted)")
    group = p.add_argument_group("defaults for entries that lack them")
    group.add_argument("--source", help="service name (also: the syslog APP-NAME fills it)")
    group.add_argument("--environment", help="e.g. production, staging, development")
    group.add_argument("--level", help="e.g. info")
    group.add_argument("--dataset", help="dataset (the server's default is 'default')")
    p.add_argument(
        "--batch-size",
        type=int,
        default=1000,
        metavar="N",
        help="entries per request, at most the server's limit (default 1000)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=6,
        metavar="N",
        help="attempts after a 429, 5xx or lost connection, with backoff (default 6)",
    )
    p.add_argument(
        "--progress",
        action="store_true",
        help="show progress on stderr even when it is not a terminal",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the totals and rejection reasons as JSON on stdout",
    )
    server_options(p, "key")


@command
def send(args: argparse.Namespace) -> int:
    """Send every input; print totals and the first rejection reasons."""
    if not 1 <= args.batch_size <= 1000:
        raise CliError(f"--batch-size must be from 1 to 1000, got {args.batch_size}", 2)
    names = args.files or [STDIN]
    if names.count(STDIN) > 1:
        raise CliError("stdin ('-') can be read only once", 2)
    for name in names:
        if name != STDIN and not os.path.isfile(name):
            raise CliError(f"cannot read {name!r}: no such file", 2)
    if STDIN in names and sys.stdin.isatty():
        note("reading entries from the terminal; end with Ctrl-D")
    options = Options(
        fmt=args.format, max_entries=args.batch_size, stream_stdin=args.concurrency == 1
    )
    defaults = {name: getattr(args, name) for name in DEFAULTS if getattr(args, name)}
    show = args.progress or sys.stderr.isatty()
    progress = Progress(show, args.verb, plain_size(names))
    with client(args, compress=args.gzip, backoff=Backoff(retries=max(0, args.retries))) as api:
        shipper = Shipper(api, defaults, progress, args.concurrency)
        chunks = itertools.chain.from_iterable(chunks_of(name, options) for name in names)
        totals = shipper.run(chunks)
    elapsed = time.monotonic() - progress.started
    report(totals, args, len(names), elapsed)
    return 1 if totals.rejected or totals.failed or totals.aborted else 0


def report(totals: Totals, args: argparse.Namespace, inputs: int, elapsed: float) -> None:
    """The summary on stderr (or JSON on stdout with --json)."""
    if args.json:
        print_json(
            {
                "accepted": totals.accepted,
                "rejected": totals.rejected,
                "failed": totals.failed,
                "requests": totals.requests,
                "seconds": round(elapsed, 3),
                "errors": totals.reasons,
                "aborted": totals.aborted,
            }
        )
    if totals.aborted and not totals.entries:
        raise CliError(totals.aborted)
    source = "stdin" if args.files in ([], [STDIN]) else plural(inputs, "file", "files")
    summary = (
        f"{args.verb} {plural(totals.entries, 'entry', 'entries')} from {source}"
        f" in {elapsed:.1f} s:"
        f" {totals.accepted:,} accepted, {totals.rejected:,} rejected"
    )
    if totals.failed:
        summary += f", {totals.failed:,} failed"
    note(summary)
    if totals.reasons:
        shown = len(totals.reasons)
        problems = totals.rejected + totals.failed
        note("first problems:" if problems > shown else "problems:")
        for reason in totals.reasons:
            note(f"  {reason}")
    if totals.aborted:
        raise CliError(f"stopped: {totals.aborted}")


def plural(count: int, one: str, many: str) -> str:
    """`1 entry`, `2,000 entries`."""
    return f"{count:,} {one if count == 1 else many}"
