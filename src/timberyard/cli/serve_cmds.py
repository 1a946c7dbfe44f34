"""`timberyard serve` and `timberyard init`."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import socket
import sys
from typing import Any

import msgspec

from ..settings import Settings
from ..storage.meta import PLANS, MetaStore


def register(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the server (embedded ClickHouse by default)")
    serve.add_argument("--data", help="data folder (default ./timberyard-data)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument(
        "--storage", help="ClickHouse server instead of embedded: http://host:8123/db"
    )
    serve.add_argument(
        "--meta", help="metadata store URL, e.g. postgresql+psycopg://user@host/db (default SQLite)"
    )
    serve.add_argument("--redis", help="Redis shared by several nodes, e.g. redis://host:6379/0")
    serve.add_argument("--metrics-token", help="bearer token for GET /metrics")
    serve.add_argument(
        "--metrics-port", type=int, help="also serve /metrics, unauthenticated, on this port"
    )
    serve.add_argument("--cluster", help="ClickHouse cluster of --storage (replicated tables)")
    serve.add_argument(
        "--otlp-grpc-port", type=int, help="also receive OTLP/gRPC logs on this port (e.g. 4317)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        help="ingest processes sharing the port, in front of one that owns the store (1-8)",
    )
    serve.add_argument("--syslog-port", type=int, help="also receive syslog on this UDP/TCP port")
    serve.add_argument("--syslog-project", help="id of the project syslog entries go to")
    serve.add_argument("--syslog-tls-cert", help="PEM certificate: syslog over TLS (RFC 5425)")
    serve.add_argument("--syslog-tls-key", help="PEM private key of --syslog-tls-cert")
    serve.set_defaults(handler=run_serve)

    init = sub.add_parser("init", help="create an organisation, a project and a server key")
    init.add_argument("--data", help="data folder (default ./timberyard-data)")
    init.add_argument("--meta", help="metadata store URL (default SQLite in the data folder)")
    init.add_argument("--plan", choices=PLANS, default="free", help="plan of the organisation")
    init.add_argument("--name", default="default", help="name of the organisation and project")
    init.set_defaults(handler=run_init)


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=getattr(args, "data", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        storage=getattr(args, "storage", None),
        meta_url=getattr(args, "meta", None),
        redis_url=getattr(args, "redis", None),
        metrics_token=getattr(args, "metrics_token", None),
        metrics_port=getattr(args, "metrics_port", None),
        cluster=getattr(args, "cluster", None),
        otlp_grpc_port=getattr(args, "otlp_grpc_port", None),
        workers=getattr(args, "workers", None),
        syslog_port=getattr(args, "syslog_port", None),
        syslog_project=getattr(args, "syslog_project", None),
        syslog_tls_cert=getattr(args, "syslog_tls_cert", None),
        syslog_tls_key=getattr(args, "syslog_tls_key", None),
    )


def run_serve(args: argparse.Namespace) -> int:
    """Run the HTTP server until SIGTERM/SIGINT, then flush and exit."""
    settings = _settings(args)
    configure_logging(settings)
    if settings.workers and not settings.is_worker:
        from ..workers.supervisor import run_supervisor

        return run_supervisor(settings)
    return serve_http(settings)


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def serve_http(settings: Settings, fd: int | None = None) -> int:
    """The app under uvicorn: on host:port, or on the listening socket `fd` (a worker)."""
    import uvicorn

    from ..app import create_app
    from .deadlines import protocol

    app = create_app(settings)
    if settings.metrics_port:
        from prometheus_client import start_http_server

        # A thread of its own: scrapes work even while the event loop is busy.
        start_http_server(settings.metrics_port, settings.host, app.state.services.metrics.registry)
    # Each request decodes thousands of short-lived dicts; collecting the young
    # generation less often costs memory briefly and saves much CPU.
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)
    if fd is None:
        where = settings.storage or f"embedded ClickHouse in {settings.data_dir.resolve()}"
        logging.getLogger("timberyard").info(
            "timberyard listening on http://%s:%d (storage: %s)",
            settings.host,
            settings.port,
            where,
        )
    # uvicorn re-raises the signal it caught once shutdown is complete; by then
    # everything accepted is flushed, so that signal means a clean exit.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        loop="auto",
        http=protocol(settings.header_timeout, settings.body_timeout),
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=max(1, int(settings.keep_alive_timeout)),
        timeout_graceful_shutdown=30,
    )
    # uvicorn's own `fd` takes any descriptor for a Unix socket, and so leaves Nagle on
    # for TCP: a socket object of the real family gets TCP_NODELAY from asyncio.
    sockets = None if fd is None else [socket.socket(fileno=fd)]
    uvicorn.Server(config).run(sockets=sockets)
    return 0


def _exit_cleanly(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def run_init(args: argparse.Namespace) -> int:
    """Create an organisation, project and server key; print them as one JSON object."""
    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    meta = MetaStore(settings.metadata_url)
    meta.create()
    token = meta.ensure_admin_token()
    org = meta.create_organisation(args.name, args.plan)
    project = meta.create_project(org["id"], args.name)
    _, secret = meta.create_key(project["id"], "server")
    out: dict[str, Any] = {"organisation": org["id"], "project": project["id"], "key": secret}
    if token:
        out["adminToken"] = token
    meta.close()
    sys.stdout.write(msgspec.json.encode(out).decode() + "\n")
    return 0
