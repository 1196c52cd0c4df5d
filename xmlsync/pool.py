"""The worker pool of a build with several jobs: batches of records go to worker processes and come back
in input order, with a bounded number in flight, and a worker ends when the main process does."""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Iterable, Iterator

from xmlsync.batch import Batch, Built, build_batch
from xmlsync.config import BuildConfig
from xmlsync.readers import RawRecord
from xmlsync.validate import BATCH


def _batches(records: Iterable[RawRecord]) -> Iterator[Batch]:
    batch: Batch = []
    for index, raw in enumerate(records, start=1):
        batch.append((raw, index))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def built_batches(
    records: Iterable[RawRecord], config: BuildConfig, jobs: int, output: str = "xml"
) -> Iterator[tuple[Batch, list[Built]]]:
    """Yield each batch with what :func:`build_batch` made of it, in order; in ``jobs`` processes if > 1."""
    if jobs <= 1:
        for batch in _batches(records):
            yield batch, build_batch(batch, config, output)
        return
    with _worker_pool(jobs) as pool:
        window: collections.deque[tuple[Batch, concurrent.futures.Future[list[Built]]]] = collections.deque()
        for batch in _batches(records):
            window.append((batch, pool.submit(build_batch, batch, config, output)))
            if len(window) >= 2 * jobs:  # bounded: memory stays flat however fast the input is read
                done, future = window.popleft()
                yield done, future.result()
        while window:
            done, future = window.popleft()
            yield done, future.result()


@contextlib.contextmanager
def _worker_pool(jobs: int) -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["xmlsync.batch"])
    pool = concurrent.futures.ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),)
    )
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _start_worker(parent: int) -> None:
    """Set up a worker process: Ctrl-C is the parent's to handle, and the worker ends when the parent does.

    A worker's own parent is the forkserver, and its siblings hold its queues open, so nothing else would
    end it if the main process were killed (SIGKILL, or SIGTERM before it could shut the pool down).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), name="xmlsync-parent-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    """Wait until process ``parent`` has ended, then end this process at once."""
    try:
        fd = os.pidfd_open(parent)  # Linux 5.3+: readable when the process ends
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # pragma: no cover - other systems: look twice a second
        while True:
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass
            time.sleep(0.5)
    select.select([fd], [], [])
    os._exit(1)


def available_cpus() -> int:
    """Return the CPUs this process may run on (for ``jobs="auto"``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1
