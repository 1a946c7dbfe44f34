"""`serve --workers N`: the owner process, which starts, watches and stops the workers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..clock import Clock
from ..ingest.orphans import drain, worker_logs
from ..retention import Retention
from ..settings import Settings
from ..shared.relay import SLOTS
from ..storage.entries import EntryStore, database_of, storage_dsn
from ..storage.meta import MetaStore
from .owner import Owner
from .rpc import socket_path

log = logging.getLogger("timberyard")

# A worker that dies sooner than this after its start is restarted after a growing pause.
QUICK_EXIT_SECONDS = 5.0
STOP_SECONDS = 60.0


def worker_environment(settings: Settings, index: int, owner_socket: Path) -> dict[str, str]:
    """The environment of worker `index`: every setting as its TIMBERYARD_* variable."""
    env = dict(os.environ)
    for item in dataclasses.fields(Settings):
        value = getattr(settings, item.name)
        name = item.metadata["env"]
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    env["TIMBERYARD_WORKER_INDEX"] = str(index)
    env["TIMBERYARD_OWNER_SOCKET"] = str(owner_socket)
    if settings.metrics_port:
        # One registry per worker: worker i answers scrapes on metrics_port + i.
        env["TIMBERYARD_METRICS_PORT"] = str(settings.metrics_port + index)
    return env


class Worker:
    """One worker process and how often it had to be restarted."""

    def __init__(self, index: int, settings: Settings, owner_socket: Path, fd: int) -> None:
        self.index = index
        self.settings = settings
        self.owner_socket = owner_socket
        self.fd = fd
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.restarts = 0
        self.pause = 0.5
        self.due = 0.0  # when a dead worker is started again

    def spawn(self) -> None:
        command = [
            sys.executable,
            "-m",
            "timberyard.workers.worker",
            "--fd",
            str(self.fd),
            "--parent",
            str(os.getpid()),
        ]
        env = worker_environment(self.settings, self.index, self.owner_socket)
        self.process = subprocess.Popen(command, env=env, pass_fds=(self.fd,))
        self.started = time.monotonic()
        log.info("worker %d started (pid %d)", self.index, self.process.pid)

    def check(self, stopping: bool) -> None:
        """Restart the worker if it died (after a pause when it keeps dying at once)."""
        process = self.process
        if stopping or process is None:
            return
        code = process.poll()
        if code is None:
            return
        now = time.monotonic()
        if self.due == 0.0:
            quick = now - self.started < QUICK_EXIT_SECONDS
            self.pause = min(self.pause * 2, 10.0) if quick else 0.5
            self.due = now + (self.pause if quick else 0.0)
            log.error(
                "worker %d (pid %d) exited with %s; restarting it%s; its write-ahead log"
                " replays what it accepted",
                self.index,
                process.pid,
                code,
                f" in {self.pause:.1f}s" if quick else "",
            )
        if now >= self.due:
            self.due = 0.0
            self.restarts += 1
            self.spawn()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_supervisor(settings: Settings) -> int:
    """Open the store, serve it to N workers on the shared port, until SIGTERM/SIGINT."""
    if not 1 <= settings.workers <= SLOTS:
        raise SystemExit(f"--workers must be between 1 and {SLOTS} (got {settings.workers})")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    meta = MetaStore(settings.metadata_url)
    meta.create()  # before the workers, so that none of them races another to migrate
    dsn = storage_dsn(settings.storage, settings.data_dir)
    store = EntryStore(dsn, database_of(dsn, settings.database), settings.cluster)
    store.open()
    sock = _listen(settings.host, settings.port)
    try:
        asyncio.run(_supervise(settings, store, meta, sock))
    finally:
        sock.close()
        store.close()
        meta.close()
    return 0


async def _supervise(
    settings: Settings, store: EntryStore, meta: MetaStore, sock: socket.socket
) -> None:
    # What `serve` without workers, or with more of them, left unflushed.
    root = settings.wal_dir
    unused = [p for p in worker_logs(root) if int(p.name[7:]) >= settings.workers]
    await drain(store, [root, *unused])
    path = socket_path(settings.data_dir)
    owner = Owner(store)
    await owner.start(path)
    retention = Retention(store, meta, Clock(), settings.retention_check_seconds)
    await retention.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    workers = [Worker(i, settings, path, sock.fileno()) for i in range(settings.workers)]
    for worker in workers:
        worker.spawn()
    where = settings.storage or f"embedded ClickHouse in {settings.data_dir.resolve()}"
    log.info(
        "timberyard listening on http://%s:%d with %d workers (storage: %s)",
        settings.host,
        settings.port,
        settings.workers,
        where,
    )
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)
            for worker in workers:
                worker.check(stop.is_set())
    finally:
        log.info("stopping %d workers; each flushes what it accepted", len(workers))
        await _stop_workers(workers)
        await retention.stop()
        await owner.stop()


async def _stop_workers(workers: list[Worker]) -> None:
    running = [w.process for w in workers if w.process is not None and w.process.poll() is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for process in running:
        try:
            await asyncio.to_thread(process.wait, max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error(
                "worker pid %d did not stop; killing it (its WAL keeps the rest)", process.pid
            )
            process.kill()
            await asyncio.to_thread(process.wait)
