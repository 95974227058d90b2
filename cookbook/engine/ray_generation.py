"""Generation on Ray: the interleaved sample sequence cut into shards of whole chunks (index
ranges: a sample is a pure function of (seed, template, index)), each rendered by a Ray task,
written by its worker as a JSONL shard (the workers share the output's file system) with its
row count and hash in a manifest, then joined in order into the same bytes the local engine
writes. A rerun reuses every shard whose rows and hash check
out and redoes the rest; a template that fails names its shard, template and sample index."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.engine import generation
from cookbook.engine.generation import CHUNK, Chunk, Job, chunks
from cookbook.engine.ray_shards import (
    fingerprint,
    import_ray,
    ray_error,
    shard_entry,
    start_ray,
    verified_shards,
    write_manifest,
)
from cookbook.engine.ray_shards import (
    write_shard as write_shard_file,
)

#: Samples per shard by default (whole chunks of ``CHUNK``).
SHARD_SIZE = 64 * CHUNK
_ready: tuple | None = None


def plan_shards(counts: Sequence[int], shard_size: int) -> list[list[Chunk]]:
    """The chunks of the interleaved sequence, grouped into shards of about ``shard_size``
    samples (whole chunks, so each shard renders exactly the local engine's bytes)."""
    shards: list[list[Chunk]] = [[]]
    size = 0
    for chunk in chunks(counts):
        if size >= shard_size:
            shards.append([])
            size = 0
        shards[-1].append(chunk)
        size += sum(hi - lo for _, lo, hi in chunk)
    return [s for s in shards if s]


def render_shard(
    jobs: Sequence[Job], seed: int, token_space: str, shard: list[Chunk]
) -> tuple[bytes, list[int]]:
    """A shard's JSON lines and each chunk's row count; a failing template is found again
    sample by sample and reported with its index."""
    global _ready
    if _ready != (repr(list(jobs)), seed, token_space):  # a worker sets up once per job
        generation._init_worker(jobs, seed, token_space)
        _ready = (repr(list(jobs)), seed, token_space)
    parts, sizes = [], []
    for chunk in shard:
        try:
            data, n = generation._render_chunk(chunk)
        except CookbookError:
            raise  # the sample maker names the template and the sample
        except Exception as exc:
            raise CookbookError(_which_sample(chunk, exc)) from None
        parts.append(data)
        sizes.append(n)
    return b"".join(parts), sizes


def write_shard(
    jobs: Sequence[Job],
    seed: int,
    token_space: str,
    shard: list[Chunk],
    folder: str,
    i: int,
    name: str | None = None,
    fmt: str = "jsonl",
) -> dict[str, Any]:
    """Render shard ``i`` and write it into ``folder`` (shared by the workers) as ``name``,
    JSONL or Parquet (a row group per chunk, as the local engine writes); its manifest
    entry. The data never passes through the driver."""
    data, sizes = render_shard(jobs, seed, token_space, shard)
    name = name or f"shard-{i:05d}.jsonl"
    if fmt == "jsonl":
        return write_shard_file(Path(folder), name, data, chunks=sizes)
    writer = generation._Writer(Path(folder) / name, fmt)
    lines, start, ok = data.splitlines(keepends=True), 0, False
    try:
        for size in sizes:
            writer.write(b"".join(lines[start : start + size]))
            start += size
        ok = True
    finally:
        writer.close(ok)
    return shard_entry(Path(folder) / name, chunks=sizes)


def _which_sample(chunk: Chunk, exc: Exception) -> str:
    for job, lo, hi in chunk:
        maker = generation._makers[job]
        for index in range(lo, hi):
            try:
                maker.lines(index, index + 1)
            except Exception as inner:
                return (
                    f"template {maker.name!r} failed on sample {index}:"
                    f" {type(inner).__name__}: {inner}"
                )
    return f"{type(exc).__name__}: {exc}"


def generate_on_ray(
    jobs: Sequence[Job],
    seed: int,
    output: str | Path,
    *,
    token_space: str = "pseudowords",
    fmt: str = "jsonl",
    address: str | None = None,
    shard_size: int = SHARD_SIZE,
    num_cpus: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    keep_shards: bool = False,
) -> int:
    """Write every job's samples to ``output`` with Ray tasks; the same bytes as
    ``generation.generate``. ``address``: a running cluster (``auto`` or ``HOST:PORT``);
    without one a local Ray is started. Completed shards survive a killed run.

    With ``keep_shards``, ``output`` is a folder and the shards are the output (no join, no
    second write): ``train-NNNNN-of-MMMMM.jsonl`` or ``.parquet`` beside ``manifest.json``,
    a folder ``datasets.load_dataset`` reads as one train split, in the samples' order."""
    if fmt not in generation.FORMATS:
        choices = ", ".join(generation.FORMATS)
        raise CookbookError(f"unknown format {fmt!r}; choose one of {choices}")
    if shard_size < 1:
        raise CookbookError(f"shard_size must be at least 1, not {shard_size}")
    ray = import_ray()
    output = Path(output)
    counts = [j.count for j in jobs]
    generation._init_worker(jobs, seed, token_space)  # unknown templates fail here, at once
    shards = plan_shards(counts, shard_size)
    folder = output if keep_shards else output.with_name(output.name + ".shards")
    shard_fmt = fmt if keep_shards else "jsonl"  # joined shards are JSONL, copied end to end
    names = [f"shard-{i:05d}.jsonl" for i in range(len(shards))]
    if keep_shards:
        names = [f"train-{i:05d}-of-{len(shards):05d}.{fmt}" for i in range(len(shards))]
        if output.exists() and not output.is_dir():
            raise CookbookError(f"{output}: --keep-shards writes a folder, and this is a file")
    key = fingerprint(
        [[j.name, j.count, j.params] for j in jobs] + [seed, token_space, shard_size, CHUNK]
        + [shard_fmt, names[:1]]
    )  # fmt: skip
    done = verified_shards(folder, key, len(shards))
    folder.mkdir(parents=True, exist_ok=True)
    from cookbook.engine.ray_mapping import release_ray_models

    release_ray_models()  # a model step's idle actors would hold the CPUs these tasks need
    started = start_ray(ray, address, num_cpus)
    try:
        render = ray.remote(max_retries=3, retry_exceptions=False)(write_shard)
        for i in done:
            if on_progress:
                on_progress(done[i]["rows"])
        jobs_ref = ray.put(list(jobs))
        pending = {
            render.remote(
                jobs_ref, seed, token_space, shards[i], str(folder), i, names[i], shard_fmt
            ): i
            for i in range(len(shards))
            if i not in done
        }
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(ready[0])
            try:
                done[i] = ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:
                raise CookbookError(f"shard {i}: {ray_error(ray, exc)}") from None
            write_manifest(folder, key, len(shards), done)
            if on_progress:
                on_progress(done[i]["rows"])
    finally:
        if started:
            ray.shutdown()
    if keep_shards:
        return sum(done[i]["rows"] for i in range(len(shards)))
    written = _join(folder, output, fmt, [done[i] for i in range(len(shards))])
    shutil.rmtree(folder)
    return written


def _join(folder: Path, output: Path, fmt: str, entries: list[dict[str, Any]]) -> int:
    """The shards in order as one file: JSONL by copying the shard files end to end, Parquet
    chunk by chunk as the local engine writes it (the same row groups)."""
    if fmt == "jsonl":
        partial = output.with_name(output.name + ".partial")
        output.parent.mkdir(parents=True, exist_ok=True)
        try:
            with partial.open("wb") as out:
                for entry in entries:
                    with (folder / entry["file"]).open("rb") as shard:
                        shutil.copyfileobj(shard, out, 1 << 24)
            os.replace(partial, output)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return sum(entry["rows"] for entry in entries)
    writer = generation._Writer(output, fmt)
    written, ok = 0, False
    try:
        for entry in entries:
            lines = (folder / entry["file"]).read_bytes().splitlines(keepends=True)
            start = 0
            for size in entry["chunks"]:
                writer.write(b"".join(lines[start : start + size]))
                start += size
            written += entry["rows"]
        ok = True
    finally:
        writer.close(ok)
    return written
