"""Model steps on a real local Ray (2 CPUs, so two actors with a tiny random Llama each):
evaluation and backtranslation's self-augmentation and self-curation give the local engine's
outputs for greedy decoding; shards removed or cut short are redone and only they; a record
that fails is named with its shard."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("transformers")

from eval_helpers import FAKE_PLUGIN, WORDS, one_thread, tiny_vocabulary  # noqa: E402
from tiny_llama import build_tiny_llama  # noqa: E402

from cookbook import CookbookError, Model, PipelineContext, StepContext, get_registry  # noqa: E402
from cookbook.engine import (  # noqa: E402
    evaluate_task,
    evaluate_template,
    load_eval_model,
    map_on_ray,
)
from cookbook.registry import reset_registry  # noqa: E402

COPY = "\n".join(f"w{i} w{(i * 5) % 12}" for i in range(9)) + "\n"
PICK = "\n".join(f"w{i} w{(i + 4) % 12} w{(i + 8) % 12} {i % 3}" for i in range(7)) + "\n"
RAY = {"engine": "ray", "model_shard_size": 2}


@pytest.fixture(autouse=True)
def single_thread(monkeypatch):
    yield from one_thread(monkeypatch)


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """One local Ray for the module (2 CPUs), its workers seeing the fake tasks plugin."""
    site = tmp_path_factory.mktemp("site")
    (site / "ray_fake_tasks.py").write_text(textwrap.dedent(FAKE_PLUGIN))
    info = site / "ray_fake_tasks-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ray-fake-tasks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[cookbook]\nfake_tasks = ray_fake_tasks\n")
    sys.path.insert(0, str(site))
    reset_registry()
    env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "OMP_NUM_THREADS": "1"}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": env})  # fmt: skip
    yield
    ray.shutdown()
    sys.path.remove(str(site))
    reset_registry()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    words = tiny_vocabulary() + ["boom", "Score:", "1", "2", "3", "4", "5", "rate", "this"]
    return build_tiny_llama(tmp_path_factory.mktemp("tiny"), sorted(set(words)))


@pytest.fixture
def data(tmp_path, local_ray):
    reset_registry()  # the fake tasks plugin is on the path for the whole module
    copy, pick = tmp_path / "copy.txt", tmp_path / "pick.txt"
    copy.write_text(COPY)
    pick.write_text(PICK)
    return copy, pick


@pytest.mark.parametrize("task", ["copy", "pick"])
def test_a_task_evaluated_on_ray_actors_gives_the_local_results(tiny_model, data, tmp_path, task):
    path = data[0] if task == "copy" else data[1]
    local = evaluate_task(task, str(path), str(tiny_model), batch_size=3, progress=False,
                          generations_path=tmp_path / "local.jsonl")  # fmt: skip
    shards = tmp_path / "shards"
    on_ray = evaluate_task(task, str(path), str(tiny_model), batch_size=3, progress=False,
                           generations_path=tmp_path / "ray.jsonl", execution=RAY,
                           shards=shards)  # fmt: skip
    assert on_ray == local
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    manifest = json.loads((next(shards.iterdir()) / "manifest.json").read_text())
    assert manifest["shards_total"] >= 3  # spread over several shards


def test_template_evaluation_on_ray_gives_the_local_results(tiny_model, data, tmp_path):
    kwargs = {"n": 7, "seed": 3, "token_space": "tiny_words", "batch_size": 2, "progress": False}
    local = evaluate_template("copy_word", str(tiny_model), **kwargs,
                              generations_path=tmp_path / "local.jsonl")  # fmt: skip
    on_ray = evaluate_template("copy_word", str(tiny_model), **kwargs, execution=RAY,
                               shards=tmp_path / "shards",
                               generations_path=tmp_path / "ray.jsonl")  # fmt: skip
    assert on_ray == local
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()


def _step(
    name: str, tiny_model: Path, folder: Path, execution: dict, uses: tuple = ((), ()), **inputs
) -> StepContext:
    pipeline = PipelineContext(name="p", seed=5, model=str(tiny_model), token_space="tiny_words",
                               templates=uses[0], tasks=uses[1], folder=folder,
                               run_folder=folder, execution=execution)  # fmt: skip
    folder.mkdir(parents=True)
    return StepContext(name=name, params={}, inputs=inputs, pipeline=pipeline, folder=folder,
                       log=lambda message: None)  # fmt: skip


def test_self_augmentation_and_curation_on_ray_write_the_local_records(tiny_model, data, tmp_path):
    """Augmentation generates, curation (rated by likelihood) scores continuations."""
    kinds = get_registry()
    augment, curate = kinds.get("steps", "self_augment"), kinds.get("steps", "self_curate")
    segments_file = tmp_path / "segments.jsonl"
    with segments_file.open("w") as f:
        for i in range(9):
            text = " ".join(WORDS[(i + j) % 12] for j in range(3 + i % 4))
            f.write(json.dumps({"id": f"s{i}", "text": text, "source": "corpus"}) + "\n")
    files = {}
    for where, execution in (("local", {}), ("ray", RAY)):
        model = Model(base=str(tiny_model))
        ctx = _step("candidates", tiny_model, tmp_path / where / "a", execution, model=model,
                    segments=_segments(segments_file))  # fmt: skip
        out = augment.run(ctx, max_new_tokens=4, batch_size=2, temperature=0.0, top_p=1.0)
        ctx = _step("curated", tiny_model, tmp_path / where / "c", execution, model=None,
                    candidates=out["candidates"])  # fmt: skip
        curate.run(ctx, threshold=1, prompt="rate this {instruction} {output}", iteration=1,
                   tag=None, rating="likelihood", max_new_tokens=3, batch_size=2)  # fmt: skip
        files[where] = [(tmp_path / where / "a" / "candidates.jsonl").read_bytes(),
                        (tmp_path / where / "c" / "ratings.jsonl").read_bytes(),
                        (tmp_path / where / "c" / "samples.jsonl").read_bytes()]  # fmt: skip
        assert not (tmp_path / where / "a" / "ray-shards").exists()  # cleared once written
    assert files["ray"] == files["local"]
    assert files["local"][0].count(b"\n") > 0 and files["local"][1].count(b"\n") > 0


def _segments(file: Path):
    from cookbook_plugins.backtranslation.steps import Segments

    return Segments(file=file, segments=9, dropped={})


def test_a_rerun_redoes_only_the_shards_removed_or_cut_short(tiny_model, data, tmp_path):
    prompts = [f"copy w{i} w{(i * 7) % 12} to" for i in range(8)]
    shards = tmp_path / "shards"
    lm = load_eval_model(str(tiny_model), execution=RAY, shards=shards)
    first = lm.generate(prompts, max_new_tokens=3, stop=None, batch_size=2)
    folder = shards / "01-generate"
    files = sorted(folder.glob("shard-*.jsonl"))
    assert len(files) == 4
    times = [f.stat().st_mtime_ns for f in files]
    files[1].unlink()
    files[2].write_bytes(files[2].read_bytes()[:-3])
    lm = load_eval_model(str(tiny_model), execution=RAY, shards=shards)
    assert lm.generate(prompts, max_new_tokens=3, stop=None, batch_size=2) == first
    again = [f.stat().st_mtime_ns for f in sorted(folder.glob("shard-*.jsonl"))]
    assert again[0] == times[0] and again[3] == times[3]  # verified, reused
    assert again[1] != times[1] and again[2] != times[2]  # redone
    local = load_eval_model(str(tiny_model)).generate(prompts, max_new_tokens=3, stop=None,
                                                      batch_size=2)  # fmt: skip
    assert first == local
    lm = load_eval_model(str(tiny_model), execution=RAY, shards=shards)  # other settings
    lm.generate(prompts, max_new_tokens=2, stop=None, batch_size=2)
    assert all(f.stat().st_mtime_ns not in times for f in folder.glob("shard-*.jsonl"))


def load_words() -> list[str]:
    return list(WORDS)


def words_unless_boom(words: list[str], texts: list[str], shard: int) -> list[str]:
    """A stand-in model function that fails on the record ``boom``."""
    if "boom" in texts:
        raise ValueError("cannot read 'boom'")
    return [f"{t}:{len(words)}" for t in texts]


def dies_once(marker: str, words: list[str], texts: list[str], shard: int) -> list[str]:
    """A stand-in model function whose first call kills its actor's process."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return words_unless_boom(words, texts, shard)


def test_an_actor_killed_mid_shard_is_restarted_and_the_shard_redone(local_ray, tmp_path):
    from functools import partial

    marker = tmp_path / "killed"
    items = ["a", "b", "c", "d", "e"]
    out = map_on_ray(load_words, partial(dies_once, str(marker)), items, tmp_path / "m",
                     job="t", shard_size=2, actors=1)  # fmt: skip
    assert marker.exists() and out == [f"{t}:12" for t in items]


def test_a_failing_record_is_named_with_its_shard(local_ray, tmp_path):
    items = ["a", "b", "c", "d", "boom", "f", "g"]
    folder = tmp_path / "m"
    with pytest.raises(CookbookError) as caught:
        map_on_ray(load_words, words_unless_boom, items, folder, job="t", shard_size=2, actors=1)
    assert str(caught.value) == "shard 2 (records 4-5): record 4: ValueError: cannot read 'boom'"
    assert json.loads((folder / "manifest.json").read_text())["shards"].keys() == {"0", "1"}
    items[4] = "e"
    out = map_on_ray(load_words, words_unless_boom, items, folder, job="t", shard_size=2, actors=1)
    assert out == [f"{t}:12" for t in items]


def test_the_eval_step_on_ray_writes_the_local_results(tiny_model, data, tmp_path):
    from cookbook import TaskUse, TemplateUse

    kind = get_registry().get("steps", "eval")
    results = {}
    for where, execution in (("local", {}), ("ray", RAY)):
        folder = tmp_path / where
        uses = ((TemplateUse("copy_word", {}),), (TaskUse("copy", "copy", str(data[0])),))
        ctx = _step("eval", tiny_model, folder, execution, uses)
        ctx.sources = {"models": []}
        out = kind.run(ctx, tasks=["copy"], limit=None, template_samples=5, base=True,
                       batch_size=2, labels=None, averages=None)  # fmt: skip
        files = {p.name: p.read_bytes() for p in sorted(folder.glob("*.jsonl"))}
        results[where] = ([{k: v for k, v in r.items()} for r in out["results"].rows], files)
        assert not (folder / "ray-shards").exists()
    assert results["ray"] == results["local"]
    assert set(results["local"][1]) == {"base-copy.jsonl", "base-copy_word.jsonl"}
