"""A model mapped over record shards on Ray actors: each actor loads the model once (a GPU
each where the cluster has GPUs, else one CPU each) and applies a function to one shard of
records at a time, writing the shard's outputs as a JSONL file whose rows and sha256 go into
a manifest. A rerun of the same job (same model, function, settings and records) reuses the
shards that check out and redoes the rest; a record whose function fails is named with its
shard. ``RayEvalModel`` is an ``EvalModel`` whose generation and log-likelihoods run this
way, so evaluation and the model steps of plugins run on Ray unchanged."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.engine.evaluation import EvalModel
from cookbook.engine.ray_batches import (
    generation_batches,
    loglikelihood_batches,
    shard_by_batches,
)
from cookbook.engine.ray_shards import (
    fingerprint,
    import_ray,
    ray_error,
    start_ray,
    verified_shards,
    write_manifest,
    write_shard,
)

#: Records per shard of a model step by default.
MODEL_SHARD_SIZE = 256
Apply = Callable[[Any, list[Any], int], list[Any]]


def plan_ranges(
    count: int, shard_size: int, groups: Sequence[Hashable] | None = None
) -> list[tuple[int, int]]:
    """Index ranges of about ``shard_size`` records; with ``groups`` (a key per record), a
    run of records with the same key is never cut (the choices of one question stay
    together, so a shared context is read as the local engine reads it)."""
    if shard_size < 1:
        raise CookbookError(f"shard_size must be at least 1, not {shard_size}")
    ranges, start = [], 0
    while start < count:
        stop = min(count, start + shard_size)
        while groups is not None and 0 < stop < count and groups[stop] == groups[stop - 1]:
            stop += 1
        ranges.append((start, stop))
        start = stop
    return ranges


class ModelWorker:
    """A Ray actor's state: the model ``load()`` returned, applied to shard after shard."""

    def __init__(self, load: Callable[[], Any]) -> None:
        self.model = load()

    def run(self, apply: Apply, items: list[Any], folder: str, i: int, start: int) -> dict:
        """Apply to shard ``i`` (records ``start``...) and write its outputs; its entry."""
        try:
            outputs = apply(self.model, items, i)
        except Exception as exc:
            raise CookbookError(self._which_record(apply, items, i, start, exc)) from None
        if len(outputs) != len(items):
            raise CookbookError(f"{len(outputs)} outputs for {len(items)} records")
        data = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in outputs).encode()
        return write_shard(Path(folder), f"shard-{i:05d}.jsonl", data, start=start)

    def _which_record(
        self, apply: Apply, items: list[Any], i: int, start: int, exc: Exception
    ) -> str:
        """The first record that fails on its own, in the function's own words."""
        for offset, item in enumerate(items):
            try:
                apply(self.model, [item], i)
            except Exception as inner:
                return f"record {start + offset}: {type(inner).__name__}: {inner}"
        return f"records {start}-{start + len(items) - 1}: {type(exc).__name__}: {exc}"


@dataclass
class ActorPool:
    """Actors holding one model each, started on first use and kept for later maps (a
    model step loads its model once for all its passes). ``address``: a running cluster
    (``auto`` or ``HOST:PORT``); without one a local Ray is started for this process."""

    load: Callable[[], Any]
    address: str | None = None
    num_cpus: int | None = None
    actors: int | None = None
    _workers: list[Any] = field(default_factory=list)

    def _start(self, ray: Any, needed: int) -> list[Any]:
        start_ray(ray, self.address, self.num_cpus)
        if not self._workers:
            resources = ray.cluster_resources()
            gpus = int(resources.get("GPU", 0))
            options = {"num_gpus": 1} if gpus else {"num_cpus": 1}
            count = gpus or max(1, int(resources.get("CPU", 1)))
            count = max(1, min(count, self.actors or count, needed))
            actor = ray.remote(max_restarts=1, max_task_retries=1, **options)(ModelWorker)
            self._workers = [actor.remote(self.load) for _ in range(count)]
        return self._workers

    def map(
        self,
        apply: Apply,
        items: Sequence[Any],
        folder: str | Path,
        *,
        job: Any,
        shard_size: int = MODEL_SHARD_SIZE,
        groups: Sequence[Hashable] | None = None,
        ranges: Sequence[tuple[int, int]] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[Any]:
        """``apply(model, shard records, shard index)`` over ``items`` in shards (``ranges``
        of indices, else planned by ``plan_ranges``), the outputs in the records' order.
        ``job`` names what is computed (model, function, settings): with the records' hash it
        keys the shards in ``folder`` that a rerun may reuse."""
        ray = import_ray()
        folder = Path(folder)
        items = list(items)
        if ranges is None:
            ranges = plan_ranges(len(items), shard_size, groups)
        ranges = [(int(lo), int(hi)) for lo, hi in ranges]
        records = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()
        key = fingerprint([job, ranges, records])
        done = verified_shards(folder, key, len(ranges))
        folder.mkdir(parents=True, exist_ok=True)
        for i in done:
            if on_progress:
                on_progress(ranges[i][1] - ranges[i][0])
        todo = [i for i in range(len(ranges)) if i not in done]
        if todo:
            self._run(ray, apply, items, ranges, todo, folder, (key, done), on_progress)
        outputs: list[Any] = []
        for i in range(len(ranges)):
            with (folder / done[i]["file"]).open(encoding="utf-8") as f:
                outputs += [json.loads(line) for line in f]
        return outputs

    def _run(
        self,
        ray: Any,
        apply: Apply,
        items: list[Any],
        ranges: list[tuple[int, int]],
        todo: list[int],
        folder: Path,
        manifest: tuple[str, dict[int, dict[str, Any]]],
        on_progress: Callable[[int], None] | None,
    ) -> None:
        """Shards ``todo`` on the actors, one at a time each; ``manifest`` (key, entries)
        recorded after every shard."""
        key, done = manifest
        idle = list(self._start(ray, len(todo)))
        pending: dict[Any, tuple[int, Any]] = {}
        while todo or pending:
            while idle and todo:
                worker, i = idle.pop(), todo.pop(0)
                lo, hi = ranges[i]
                ref = worker.run.remote(apply, items[lo:hi], str(folder), i, lo)
                pending[ref] = (i, worker)
            ready, _ = ray.wait(list(pending), num_returns=1)
            i, worker = pending.pop(ready[0])
            try:
                done[i] = ray.get(ready[0])
            except (ray.exceptions.RayTaskError, ray.exceptions.RayActorError) as exc:
                self.close()
                lo, hi = ranges[i]
                where = f"shard {i} (records {lo}-{hi - 1})"
                raise CookbookError(f"{where}: {ray_error(ray, exc)}") from None
            write_manifest(folder, key, len(ranges), done)
            idle.append(worker)
            if on_progress:
                on_progress(ranges[i][1] - ranges[i][0])

    def close(self) -> None:
        """Stop the actors (their models are freed)."""
        if self._workers:
            ray = import_ray()
            for worker in self._workers:
                ray.kill(worker)
            self._workers = []


def map_on_ray(
    load: Callable[[], Any],
    apply: Apply,
    items: Sequence[Any],
    folder: str | Path,
    *,
    job: Any,
    shard_size: int = MODEL_SHARD_SIZE,
    groups: Sequence[Hashable] | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    actors: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[Any]:
    """``apply(model, records, shard index)`` over ``items`` in shards of ``shard_size`` on
    Ray actors that each ``load()`` the model once; the outputs in order. Records and
    outputs are JSON values; ``load`` and ``apply`` must be importable where the actors run.
    Shards and their manifest stay in ``folder`` for a rerun of the same ``job``; a local Ray
    started here serves the rest of the process."""
    release_ray_models()  # their actors would hold the CPUs this map's actors need
    pool = ActorPool(load, address, num_cpus, actors)
    try:
        return pool.map(apply, items, folder, job=job, shard_size=shard_size, groups=groups,
                        on_progress=on_progress)  # fmt: skip
    finally:
        pool.close()


def _generate(lm: EvalModel, prompts: list[str], shard: int, **settings: Any) -> list[str]:
    sampling = dict(settings.pop("sampling"))
    if sampling.get("temperature", 0) > 0:  # each shard's draws seeded apart
        sampling["seed"] = int(sampling.get("seed", 0)) * 1_000_003 + shard
    return lm.generate(prompts, **settings, **sampling)


def _loglikelihoods(lm: EvalModel, pairs: list[list[str]], shard: int, **settings: Any) -> list:
    return lm.loglikelihoods([(c, t) for c, t in pairs], **settings)


@dataclass
class RayEvalModel(EvalModel):
    """An ``EvalModel`` whose ``generate`` and ``loglikelihoods`` run on Ray actors over
    shards of whole batches (planned here from the tokenizer, as the local engine batches,
    so the numbers are the local engine's), each pass's shards kept under ``folder`` for a
    rerun; prompt formatting and lengths stay here."""

    name: str = ""
    adapter: str | None = None
    folder: Path = Path("ray-shards")
    shard_size: int = MODEL_SHARD_SIZE
    pool: ActorPool | None = None
    limit: int = 2048
    sharing: bool = True
    passes: int = 0

    def _map(
        self, what: str, apply: Apply, items: list, batches: list, settings: dict, progress: Any
    ) -> list:
        """``apply`` over ``items`` in shards of whole ``batches``; outputs in items' order."""
        self.passes += 1
        job = {"model": self.name, "adapter": self.adapter, "chat": self.chat, "pass": what,
               "settings": settings}  # fmt: skip
        per_shard = max(1, self.shard_size // max(1, settings["batch_size"]))
        order, ranges = shard_by_batches(batches, per_shard)
        assert self.pool is not None
        outputs = self.pool.map(apply, [items[i] for i in order],
                                self.folder / f"{self.passes:02d}-{what}", job=job,
                                ranges=ranges, on_progress=progress)  # fmt: skip
        placed: list[Any] = [None] * len(items)
        for position, index in enumerate(order):
            placed[index] = outputs[position]
        return placed

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int,
        stop: str | None,
        batch_size: int,
        on_progress: Any = None,
        **sampling: Any,
    ) -> list[str]:
        settings = {"max_new_tokens": max_new_tokens, "stop": stop, "batch_size": batch_size,
                    "sampling": sampling}  # fmt: skip
        batches = generation_batches(
            self.tokenizer,
            [self.prompt_text(p) for p in prompts],
            limit=self.limit,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            add_special_tokens=not self.chat,
        )
        apply = partial(_generate, **settings)
        return self._map("generate", apply, list(prompts), batches, settings, on_progress)

    def loglikelihoods(
        self, pairs: Sequence[tuple[str, str]], *, batch_size: int, on_progress: Any = None
    ) -> list[float]:
        settings = {"batch_size": batch_size}
        batches = loglikelihood_batches(
            self.tokenizer,
            pairs,
            limit=self.limit,
            batch_size=batch_size,
            add_special_tokens=not self.chat,
            joint=not self.chat,
            sharing=self.sharing,
        )
        apply = partial(_loglikelihoods, **settings)
        items = [[c, t] for c, t in pairs]
        return self._map("loglikelihoods", apply, items, batches, settings, on_progress)

    def close(self) -> None:
        """Stop the actors."""
        if self.pool is not None:
            self.pool.close()


_warm: tuple[Any, ActorPool] | None = None


def _warm_pool(load: partial, address: str | None, actors: int | None) -> ActorPool:
    """The actors of the last model loaded on Ray when it is this one again (an eval step's
    tasks and templates, a step's several passes load it once), else fresh ones (the last
    model's actors are stopped: one model is held at a time)."""
    global _warm
    ray = import_ray()
    start_ray(ray, address, None)  # a local Ray started here serves the whole process
    key = (load.args, address, actors, ray.get_runtime_context().get_job_id())
    if _warm is not None and _warm[0] == key:
        return _warm[1]
    if _warm is not None and _warm[0][-1] == key[-1]:  # the same Ray: its actors are freed
        _warm[1].close()
    pool = ActorPool(load, address, actors=actors)
    _warm = (key, pool)
    return pool


def release_ray_models() -> None:
    """Stop the actors of the model last loaded on Ray (a step calls it when it is done with
    its models; other Ray work needs the CPUs or GPUs they hold)."""
    global _warm
    if _warm is not None:
        _warm[1].close()
        _warm = None


def _load_local(model: str, adapter: str | None, chat: bool) -> EvalModel:
    from cookbook.engine.evaluation import load_eval_model

    return load_eval_model(model, adapter, chat)


def ray_eval_model(
    model: str,
    adapter: str | None = None,
    chat_template: bool | str | None = None,
    *,
    folder: str | Path,
    execution: Mapping[str, Any] | None = None,
) -> RayEvalModel:
    """``load_eval_model``'s model on Ray actors (one model each), as ``execution`` says
    (``address``, ``model_shard_size``, ``actors``); shards go under ``folder``."""
    from transformers import AutoConfig

    from cookbook.engine.evaluation import trained_chat_setting
    from cookbook.engine.inference import _indexable_cache, context_limit
    from cookbook.engine.models import (
        load_tokenizer,
        local_files_only,
        resolve_model_path,
        uses_chat_template,
    )

    execution = dict(execution or {})
    import_ray()
    tokenizer = load_tokenizer(model)
    config = AutoConfig.from_pretrained(resolve_model_path(model),
                                        local_files_only=local_files_only())  # fmt: skip
    shape = SimpleNamespace(config=config)  # what the batch plan needs of the model
    chat = trained_chat_setting(adapter) if chat_template is None else chat_template
    chat = uses_chat_template(tokenizer, chat)
    pool = _warm_pool(partial(_load_local, model, adapter, chat), execution.get("address"),
                      execution.get("actors"))  # fmt: skip
    return RayEvalModel(None, tokenizer, chat, name=model, adapter=adapter, folder=Path(folder),
                        shard_size=int(execution.get("model_shard_size", MODEL_SHARD_SIZE)),
                        pool=pool, limit=context_limit(shape),
                        sharing=_indexable_cache(shape))  # fmt: skip
