"""A worker process of `serve --workers`: `python -m timberyard.workers.worker --fd N`.

Started only by the supervisor, which passes the listening socket and every
setting (TIMBERYARD_* variables, with TIMBERYARD_WORKER_INDEX and
TIMBERYARD_OWNER_SOCKET).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys

from ..cli.serve_cmds import configure_logging, serve_http
from ..settings import Settings

_PR_SET_PDEATHSIG = 1


def _stop_with_parent(parent: int) -> None:
    """SIGTERM when the owner process dies (even by SIGKILL): flush what we can, then exit."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the hub stream's loss still shows it
        pass
    if os.getppid() != parent:
        sys.exit("the owner process is gone")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="timberyard-worker")
    parser.add_argument("--fd", type=int, required=True, help="the listening socket")
    parser.add_argument("--parent", type=int, required=True, help="the owner's pid")
    args = parser.parse_args(argv)
    _stop_with_parent(args.parent)
    settings = Settings.from_env()
    if not settings.is_worker or not settings.owner_socket:
        sys.exit("started without TIMBERYARD_WORKER_INDEX and TIMBERYARD_OWNER_SOCKET")
    configure_logging(settings)
    return serve_http(settings, fd=args.fd)


if __name__ == "__main__":
    sys.exit(main())
