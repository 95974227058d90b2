"""Streaming generation: samples of several templates, interleaved, written in chunks.

The output is a function of (seed, templates, params, counts, token space) alone: chunks are
produced in parallel, each at its place in the file (JSONL: workers write their own chunks at
offsets handed over in chunk order), so any worker count gives the same bytes.
"""

from __future__ import annotations

import heapq
import json
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.engine.samples import SampleMaker

CHUNK = 2048
FORMATS = ("jsonl", "parquet")


@dataclass
class Job:
    """``count`` samples of the registered template ``name`` with resolved ``params``."""

    name: str
    count: int
    params: dict[str, Any] = field(default_factory=dict)


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` counts differing by at most one, larger ones first."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def interleave(counts: Sequence[int]) -> Iterator[tuple[int, int]]:
    """(job, index) pairs, each job's samples spread evenly through the sequence."""
    streams = [_stream(job, count) for job, count in enumerate(counts) if count]
    for _, job, index in heapq.merge(*streams):
        yield job, index


def _stream(job: int, count: int) -> Iterator[tuple[float, int, int]]:
    """(position key, job, index) for each sample of one job, in index order."""
    return (((i + 0.5) / count, job, i) for i in range(count))


Chunk = list[tuple[int, int, int]]  # (job, first index, end index) ranges


def chunks(counts: Sequence[int], size: int = CHUNK) -> Iterator[Chunk]:
    """The interleaved sequence cut into chunks, each described by per-job index ranges."""
    jobs = [job for job, count in enumerate(counts) if count]
    if len(jobs) == 1:  # one job: its index ranges, no merge needed
        job = jobs[0]
        for lo in range(0, counts[job], size):
            yield [(job, lo, min(lo + size, counts[job]))]
        return
    order = interleave(counts)
    while True:
        block = list(islice(order, size))
        if not block:
            return
        ranges: dict[int, list[int]] = {}
        for job, index in block:
            lo_hi = ranges.setdefault(job, [index, index])
            lo_hi[1] = index + 1
        yield [(job, lo, hi) for job, (lo, hi) in ranges.items()]


def _chunk_order(counts: Sequence[int], chunk: Chunk) -> list[tuple[int, int]]:
    keys = [((i + 0.5) / counts[job], job, i) for job, lo, hi in chunk for i in range(lo, hi)]
    keys.sort()
    return [(job, i) for _, job, i in keys]


# Worker state, set once per process by ``_init_worker``.
_makers: list[SampleMaker] = []
_counts: list[int] = []


def _init_worker(jobs: Sequence[Job], seed: int, token_space: str) -> None:
    global _makers, _counts
    from cookbook.engine.token_spaces import resolve_token_space
    from cookbook.registry import get_registry

    registry = get_registry()
    tokens = resolve_token_space(token_space, registry)
    _makers = [
        SampleMaker(registry.get("templates", j.name), j.name, j.params, seed, tokens) for j in jobs
    ]
    _counts = [j.count for j in jobs]


def _render_chunk(chunk: Chunk) -> tuple[bytes, int]:
    """A chunk's JSON lines as UTF-8 bytes, and how many there are."""
    makers = _makers
    count = sum(hi - lo for _, lo, hi in chunk)
    if len(chunk) == 1:
        job, lo, hi = chunk[0]
        return makers[job].jsonl(lo, hi), count
    lines = {job: (lo, makers[job].lines(lo, hi)) for job, lo, hi in chunk}
    order = _chunk_order(_counts, chunk)
    return b"".join(lines[job][1][i - lines[job][0]] for job, i in order), count


def iter_records(
    jobs: Sequence[Job], seed: int, *, token_space: str = "pseudowords"
) -> Iterator[dict[str, Any]]:
    """Every job's samples as records, one at a time, in the order ``generate`` writes them
    (the same values as its JSONL lines): nothing is made before it is asked for."""
    import json

    _init_worker(jobs, seed, token_space)
    makers, counts = list(_makers), [j.count for j in jobs]
    for maker in makers:
        maker.prepare()
    for chunk in chunks(counts):
        if len(chunk) == 1:
            job, lo, hi = chunk[0]
            lines = makers[job].lines(lo, hi)
        else:
            made = {job: (lo, makers[job].lines(lo, hi)) for job, lo, hi in chunk}
            lines = [made[job][1][i - made[job][0]] for job, i in _chunk_order(counts, chunk)]
        for line in lines:
            yield json.loads(line)


class _Writer:
    """Writes JSONL text chunks to ``path`` (as JSONL or Parquet) through a partial file."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self.partial = path.with_name(path.name + ".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise CookbookError(
                    "--format parquet needs pyarrow: pip install 'cookbook-llm[parquet]'"
                ) from None
            self._parquet: Any = None
        else:
            self._file = self.partial.open("wb")

    def write(self, data: bytes) -> None:
        if self.fmt == "jsonl":
            self._file.write(data)
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = [json.loads(line) for line in data.splitlines()]
        for row in rows:
            row["slots"] = json.dumps(row["slots"], separators=(",", ":"))
        table = pa.Table.from_pylist(rows, schema=_parquet_schema())
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.partial, table.schema)
        self._parquet.write_table(table)

    def close_file(self) -> None:
        """Close the partial file, leaving it in place for others to write into."""
        self._file.close()

    def close(self, ok: bool) -> None:
        if self.fmt == "jsonl":
            self._file.close()
        elif self._parquet is not None:
            self._parquet.close()
        elif ok:  # no rows: still write a valid empty file
            import pyarrow.parquet as pq

            pq.write_table(_parquet_schema().empty_table(), self.partial)
        if ok:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)


def _parquet_schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("template", pa.string()),
            ("seed", pa.int64()),
            ("index", pa.int64()),
            ("slots", pa.string()),
            ("prompt", pa.string()),
            ("completion", pa.string()),
        ]
    )


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def generate(
    jobs: Sequence[Job],
    seed: int,
    output: str | Path,
    *,
    token_space: str = "pseudowords",
    workers: int | None = None,
    fmt: str = "jsonl",
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write every job's samples to ``output``; returns the number of records written.

    Nothing is left at ``output`` unless the whole file was written.
    """
    if fmt not in FORMATS:
        raise CookbookError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if seed < 0:
        raise CookbookError("seed must be a non-negative integer")
    counts = [j.count for j in jobs]
    _init_worker(jobs, seed, token_space)  # resolves names now, so errors come before any output
    for maker in _makers:  # build each vocabulary once, before workers fork
        maker.prepare()
    _check_room(Path(output), _makers, counts)
    workers = max(1, workers or default_workers())
    writer = _Writer(Path(output), fmt)
    written, ok = 0, False
    try:
        if workers == 1 or sum(counts) <= CHUNK:
            if sum(counts) > CHUNK:
                _keep_freed_memory()
            written = _write_serially(map(_render_chunk, chunks(counts)), writer, on_progress)
        elif fmt == "jsonl":
            writer.close_file()  # the workers write the partial file themselves
            written = _write_in_workers(
                chunks(counts), workers, jobs, seed, token_space, writer.partial, on_progress
            )
        else:
            results = _parallel(chunks(counts), workers, jobs, seed, token_space)
            written = _write_serially(results, writer, on_progress)
        ok = True
    finally:
        writer.close(ok)
    return written


#: Samples of each template rendered to estimate the size of the output.
_PROBE = 64


def _check_room(output: Path, makers: Sequence[SampleMaker], counts: Sequence[int]) -> None:
    """Refuse, before writing anything, an output the disk cannot hold: the size is estimated
    from the first samples of each template (with a fifth more for safety)."""
    import shutil

    estimate = 0.0
    for maker, count in zip(makers, counts, strict=True):
        if count:
            probe = min(count, _PROBE)
            estimate += len(maker.jsonl(0, probe)) / probe * count
    folder = output.parent if output.parent.exists() else Path(".")
    try:
        free = shutil.disk_usage(folder).free
    except OSError:  # pragma: no cover - a file system that does not say
        return
    if estimate * 1.2 > free:
        raise CookbookError(
            f"{output}: {sum(counts):,} samples need about {_size(estimate)}, and"
            f" {folder} has {_size(free)} free"
        )


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"  # pragma: no cover - unreachable


def _write_serially(
    results: Iterator[tuple[bytes, int]],
    writer: _Writer,
    on_progress: Callable[[int], None] | None,
) -> int:
    """Write rendered chunks in order. With a spare core they are written on a thread (the
    GIL is released while writing), so rendering the next chunk overlaps writing this one, at
    most two chunks waiting; on a single core the thread only adds switching, so not there."""
    written = 0
    if default_workers() == 1:
        for data, n in results:
            writer.write(data)
            written += n
            if on_progress:
                on_progress(n)
        return written
    with ThreadPoolExecutor(1) as io:
        pending: deque[Future[None]] = deque()
        for data, n in results:
            pending.append(io.submit(writer.write, data))
            if len(pending) > 2:
                pending.popleft().result()
            written += n
            if on_progress:
                on_progress(n)
        for future in pending:
            future.result()
    return written


def _context() -> Any:
    """The multiprocessing context: fork where there is one (workers inherit the vocabulary)."""
    import multiprocessing

    return get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")


def _pool(workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> Any:
    return ProcessPoolExecutor(
        workers,
        mp_context=_context(),
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


def _start_worker(parent: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    die_with_parent(parent)
    _keep_freed_memory()
    initializer(*initargs)


def die_with_parent(parent: int) -> None:
    """Make this process end when ``parent`` does, even when the parent is killed with
    SIGKILL and can clean up nothing (Linux ``prctl(PR_SET_PDEATHSIG)``; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):  # pragma: no cover - other systems
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no prctl
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _keep_freed_memory() -> None:
    """Keep freed memory for the next chunk rather than hand it back to the kernel, which
    hands it out again page fault by page fault (glibc's ``mallopt``; elsewhere nothing).

    Without it a process took 700 to 2,000 page faults a chunk, depending on how its heap
    lay, a quarter of a worker's time. The values are the highest glibc's own adaptive
    thresholds reach (blocks up to 32 MiB from the heap, up to 64 MiB of free heap kept), so
    a process that goes on after generating runs as glibc could have chosen anyway."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # pragma: no cover - not glibc
        return
    mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
    mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD


def _parallel(
    todo: Iterator[Chunk], workers: int, jobs: Sequence[Job], seed: int, token_space: str
) -> Iterator[tuple[bytes, int]]:
    """Chunk texts in order, at most ``2 * workers`` chunks in flight (constant memory)."""
    with _pool(workers, _init_worker, (list(jobs), seed, token_space)) as pool:
        pending: deque[Future[tuple[bytes, int]]] = deque()
        for chunk in todo:
            pending.append(pool.submit(_render_chunk, chunk))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        for future in pending:
            yield future.result()


# Shared state of workers that write the file themselves: whose turn it is to take an offset.
_turn: Any = None  # multiprocessing.Value: the number of the next chunk to take its offset
_offset: Any = None  # multiprocessing.Value: where that chunk starts in the file
_abort: Any = None  # multiprocessing.Value: set when a chunk failed, so no one waits on it
_ready: Any = None  # multiprocessing.Condition guarding the three values
_fd = -1


def _write_in_workers(
    todo: Iterator[Chunk],
    workers: int,
    jobs: Sequence[Job],
    seed: int,
    token_space: str,
    path: Path,
    on_progress: Callable[[int], None] | None,
) -> int:
    """Each worker renders a chunk and writes it at its place in ``path`` itself.

    Chunk k takes its offset after chunk k-1 has taken its own (a counter under a shared
    condition), then writes with ``pwrite`` outside the lock, so writing runs in parallel
    and only the offset hand-over is serial. Chunks are handed out in order, so the worker
    holding the next chunk to take an offset never waits on another: no deadlock."""
    context = _context()
    ready = context.Condition()
    turn, offset, abort = (context.Value("q", 0, lock=False) for _ in range(3))
    shared = (ready, turn, offset, abort, str(path))
    written = 0

    def finish(future: Future[int]) -> None:
        nonlocal written
        n = future.result()
        written += n
        if on_progress:
            on_progress(n)

    with _pool(workers, _init_writer, (list(jobs), seed, token_space, *shared)) as pool:
        pending: deque[Future[int]] = deque()
        try:
            for number, chunk in enumerate(todo):
                pending.append(pool.submit(_render_and_write, number, chunk))
                if len(pending) >= 2 * workers:
                    finish(pending.popleft())
            while pending:
                finish(pending.popleft())
        except BaseException:
            abort.value = 1  # release any worker waiting for a chunk that will never come
            if ready.acquire(timeout=5):  # not held forever even by a worker killed holding it
                ready.notify_all()
                ready.release()
            for future in pending:
                future.cancel()
            raise
    return written


def _init_writer(
    jobs: Sequence[Job], seed: int, token_space: str, ready: Any, turn: Any, offset: Any,
    abort: Any, path: str,
) -> None:  # fmt: skip
    global _ready, _turn, _offset, _abort, _fd
    _init_worker(jobs, seed, token_space)
    _ready, _turn, _offset, _abort = ready, turn, offset, abort
    _fd = os.open(path, os.O_WRONLY)


def _render_and_write(number: int, chunk: Chunk) -> int:
    """Render chunk ``number``, take its offset in turn, write it there; its record count."""
    try:
        data, count = _render_chunk(chunk)
    except BaseException:
        with _ready:  # no later chunk can take an offset now
            _abort.value = 1
            _ready.notify_all()
        raise
    with _ready:
        _ready.wait_for(lambda: _turn.value == number or _abort.value)
        if _abort.value:
            return 0
        start = _offset.value
        _offset.value = start + len(data)
        _turn.value = number + 1
        _ready.notify_all()
    view = memoryview(data)
    while view:
        done = os.pwrite(_fd, view, start)
        view, start = view[done:], start + done
    return count
