"""What the client subcommands share: server options, credentials and error reporting."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

from ..client import AdminClient, APIError, Client, ConnectionFailed

DEFAULT_URL = "http://127.0.0.1:8080"
URL_ENV = "TIMBERYARD_URL"
KEY_ENV = "TIMBERYARD_KEY"
ADMIN_ENV = "TIMBERYARD_ADMIN_TOKEN"


class CliError(Exception):
    """A failure to report as one line on stderr, with an exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def server_options(parser: argparse.ArgumentParser, credential: str) -> None:
    """Add --url, --timeout and the credential option (`key` or `admin`)."""
    group = parser.add_argument_group("server")
    group.add_argument(
        "--url",
        metavar="URL",
        help=f"server address (default ${URL_ENV} or {DEFAULT_URL})",
    )
    if credential == "key":
        group.add_argument(
            "--key", metavar="KEY", help=f"API key of the project (default ${KEY_ENV})"
        )
    else:
        group.add_argument(
            "--admin-token",
            metavar="TOKEN",
            help=f"admin token of the server (default ${ADMIN_ENV})",
        )
    group.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="seconds per request (default 10)"
    )


def server_url(args: argparse.Namespace) -> str:
    """The server address from --url, the environment or the default."""
    url = args.url or os.environ.get(URL_ENV) or DEFAULT_URL
    if "://" not in url:
        url = "http://" + url
    return str(url).rstrip("/")


def client(args: argparse.Namespace, **options: Any) -> Client:
    """A data client for the key given by --key or $TIMBERYARD_KEY."""
    key = args.key or os.environ.get(KEY_ENV)
    if not key:
        raise CliError(f"an API key is required: pass --key or set ${KEY_ENV}", 2)
    return Client(server_url(args), key, args.timeout, fail_fast=True, **options)


def admin_client(args: argparse.Namespace) -> AdminClient:
    """A management client for the token given by --admin-token or $TIMBERYARD_ADMIN_TOKEN."""
    token = args.admin_token or os.environ.get(ADMIN_ENV)
    if not token:
        raise CliError(
            f"the admin token is required: pass --admin-token or set ${ADMIN_ENV}"
            " (`timberyard init` printed it)",
            2,
        )
    return AdminClient(server_url(args), token, args.timeout, fail_fast=True)


def describe(exc: Exception) -> str:
    """One line for a client error."""
    if isinstance(exc, ConnectionFailed):
        hint = " — is `timberyard serve` running?" if "refused" in exc.reason else ""
        return f"{exc}{hint}"
    if isinstance(exc, APIError):
        hint = ""
        if exc.status == 401:
            hint = " (check --key / --admin-token)"
        return f"the server answered {exc.status}: {exc.message}{hint}"
    return str(exc)


def command(func: Callable[[argparse.Namespace], int | None]) -> Callable[..., int]:
    """Wrap a subcommand: client errors become one line on stderr and an exit status."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args) or 0)
        except CliError as exc:
            error(exc.message)
            return exc.status
        except (ConnectionFailed, APIError) as exc:
            error(describe(exc))
            return 1
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            return 130
        except BrokenPipeError:
            # The reader went away (`timberyard search | head`): not an error.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0

    return run


def error(message: str) -> None:
    """Print `timberyard: error: ...` on stderr."""
    sys.stderr.write(f"timberyard: error: {message}\n")
    sys.stderr.flush()


def note(message: str) -> None:
    """Print an informational line on stderr."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def formatter() -> type[argparse.HelpFormatter]:
    """Help formatter that keeps the examples in epilogs as written."""
    return argparse.RawDescriptionHelpFormatter
