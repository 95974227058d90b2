"""Generation on a real local Ray: the same bytes as the local engine, shards that survive an
interrupted run (verified before reuse, a partial one redone), a worker killed mid-shard
retried, a failing template reported with its shard and sample index, and JSONL or Parquet
shards kept as the output, a folder ``datasets.load_dataset`` reads."""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

ray = pytest.importorskip("ray")

from cookbook import CookbookError, get_registry  # noqa: E402
from cookbook.engine import Job, generate  # noqa: E402
from cookbook.engine import ray_generation as rg  # noqa: E402
from cookbook.registry import reset_registry  # noqa: E402

PLUGIN = """
import os
from cookbook import hookimpl, template

MARKER = os.environ["COOKBOOK_TEST_MARKER"]

@template(prompt="Say: {words}", rule=lambda slots: slots["words"])
def fragile(rng, tokens, length: int = 3):
    if not os.path.exists(MARKER):  # the first sample ever made kills its worker process
        open(MARKER, "w").close()
        os._exit(1)
    return {"words": tokens.text(rng, length)}

@template(prompt="Say: {words}", rule=lambda slots: slots["words"])
def unlucky(rng, tokens):
    if rng.randrange(500) == 0:
        raise ValueError("unlucky draw")
    return {"words": tokens.text(rng, 2)}

@hookimpl
def register_templates(register):
    register(fragile)
    register(unlucky)
"""


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """One local Ray for the module (2 CPUs), its workers seeing a test plugin."""
    site = tmp_path_factory.mktemp("site")
    (site / "ray_test_plugin.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "ray_test_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ray-test-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[cookbook]\nraytest = ray_test_plugin\n")
    marker = site / "killed-once"
    os.environ["COOKBOOK_TEST_MARKER"] = str(marker)
    sys.path.insert(0, str(site))
    reset_registry()
    env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
           "COOKBOOK_TEST_MARKER": str(marker)}  # fmt: skip
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": env})  # fmt: skip
    yield marker
    ray.shutdown()
    sys.path.remove(str(site))
    reset_registry()


def jobs(*names_counts: tuple[str, int]) -> list[Job]:
    registry = get_registry()
    return [Job(n, c, registry.get("templates", n).resolve(None)) for n, c in names_counts]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_ray_writes_the_local_engines_bytes(local_ray, tmp_path, fmt):
    work = jobs(("document_qa", 3000), ("retrieval", 2500))
    generate(work, 3, tmp_path / f"local.{fmt}", workers=1, fmt=fmt)
    rows = rg.generate_on_ray(work, 3, tmp_path / f"ray.{fmt}", fmt=fmt, shard_size=2048)
    assert rows == 5500
    assert (tmp_path / f"ray.{fmt}").read_bytes() == (tmp_path / f"local.{fmt}").read_bytes()
    assert not (tmp_path / f"ray.{fmt}.shards").exists()  # joined, then cleared


def test_an_interrupted_run_reuses_verified_shards_and_redoes_the_rest(
    local_ray, tmp_path, monkeypatch
):
    work = jobs(("document_qa", 4000), ("retrieval", 4000))
    out = tmp_path / "ray.jsonl"
    join = rg._join

    def killed(*args):
        raise KeyboardInterrupt  # stopped after the shards, before the join

    monkeypatch.setattr(rg, "_join", killed)
    with pytest.raises(KeyboardInterrupt):
        rg.generate_on_ray(work, 0, out, shard_size=2048)
    shards = out.with_name("ray.jsonl.shards")
    manifest = json.loads((shards / "manifest.json").read_text())
    assert manifest["shards_total"] == 4 and len(manifest["shards"]) == 4
    files = sorted(shards.glob("shard-*.jsonl"))
    first = files[0].stat().st_mtime_ns
    files[1].write_bytes(files[1].read_bytes()[:-100])  # a shard cut short
    files[2].unlink()  # a shard never written
    seen = {}

    def check_then_join(folder, *args):
        seen["first"] = (folder / "shard-00000.jsonl").stat().st_mtime_ns
        seen["second"] = (folder / "shard-00001.jsonl").stat().st_mtime_ns
        return join(folder, *args)

    monkeypatch.setattr(rg, "_join", check_then_join)
    assert rg.generate_on_ray(work, 0, out, shard_size=2048) == 8000
    assert seen["first"] == first and seen["second"] != first  # kept, and redone
    generate(work, 0, tmp_path / "local.jsonl", workers=1)
    assert out.read_bytes() == (tmp_path / "local.jsonl").read_bytes()


def test_a_worker_killed_mid_shard_is_retried_to_the_same_bytes(local_ray, tmp_path):
    marker = local_ray
    marker.unlink(missing_ok=True)
    work = jobs(("fragile", 3000))
    rg.generate_on_ray(work, 1, tmp_path / "ray.jsonl", shard_size=2048)
    assert marker.exists()  # a worker did die
    generate(work, 1, tmp_path / "local.jsonl", workers=1)
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()


def test_a_failing_template_names_its_shard_and_sample(local_ray, tmp_path):
    from cookbook.engine import SampleMaker
    from cookbook.engine.token_spaces import resolve_token_space

    work = jobs(("unlucky", 3000))
    with pytest.raises(CookbookError) as caught:
        rg.generate_on_ray(work, 2, tmp_path / "ray.jsonl", shard_size=1024)
    message = str(caught.value)
    assert "template 'unlucky' failed on sample" in message and "unlucky draw" in message
    index = int(message.split("failed on sample ")[1].split(":")[0])
    maker = SampleMaker(get_registry().get("templates", "unlucky"), "unlucky",
                        work[0].params, 2, resolve_token_space("pseudowords"))  # fmt: skip
    with pytest.raises(CookbookError) as local:
        maker.lines(index, index + 1)
    assert str(local.value) in message  # the local engine's own words for that sample
    assert not (tmp_path / "ray.jsonl").exists()


def test_a_pipeline_generates_on_ray_with_the_same_samples(local_ray, tmp_path):
    from cookbook.pipeline import runner
    from cookbook.pipeline.config import load_pipeline

    def run(folder, execution: str):
        folder.mkdir()
        path = folder / "pipeline.yaml"
        path.write_text(
            "name: on-ray\noutput_dir: out\nseed: 4\ntemplates: [document_qa, retrieval]\n"
            f"{execution}generate:\n  samples: 5000\n"
        )
        pipeline = load_pipeline(path)
        runner.run(pipeline)
        return pipeline, (folder / "out" / "samples.jsonl").read_bytes()

    on_ray, ray_bytes = run(tmp_path / "ray", "execution: {engine: ray, shard_size: 2048}\n")
    local, local_bytes = run(tmp_path / "local", "")
    assert on_ray.context.execution == {"engine": "ray", "shard_size": 2048}
    assert ray_bytes == local_bytes
    assert [s.hash for s in runner.plan(on_ray)] == [s.hash for s in runner.plan(local)]
    with pytest.raises(CookbookError, match="execution.engine"):
        bad = tmp_path / "bad.yaml"
        bad.write_text("name: x\ntemplates: [document_qa]\nexecution: {engine: spark}\n"
                       "generate: {samples: 3}\n")  # fmt: skip
        load_pipeline(bad)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_kept_shards_are_the_output_and_load_with_datasets(local_ray, tmp_path, fmt):
    datasets = pytest.importorskip("datasets")
    work = jobs(("document_qa", 2500), ("retrieval", 2000))
    generate(work, 5, tmp_path / f"local.{fmt}", workers=1, fmt=fmt)
    out = tmp_path / "shards"
    assert rg.generate_on_ray(work, 5, out, fmt=fmt, shard_size=2048, keep_shards=True) == 4500
    files = sorted(p.name for p in out.iterdir())
    assert files == ["manifest.json"] + [f"train-{i:05d}-of-00003.{fmt}" for i in range(3)]
    if fmt == "jsonl":  # the shards end to end are the local engine's file
        joined = b"".join((out / name).read_bytes() for name in files[1:])
        assert joined == (tmp_path / "local.jsonl").read_bytes()
    cache = str(tmp_path / "hf")  # not the shared cache: it keys a folder by its name
    kept = datasets.load_dataset(str(out), split="train", cache_dir=cache)
    builder = "parquet" if fmt == "parquet" else "json"
    local = datasets.load_dataset(builder, data_files=str(tmp_path / f"local.{fmt}"),
                                  split="train", cache_dir=cache)  # fmt: skip
    assert kept.num_rows == 4500 and kept["id"] == local["id"]
    assert kept["prompt"] == local["prompt"]
    again = out / files[2]
    before = again.stat().st_mtime_ns
    rg.generate_on_ray(work, 5, out, fmt=fmt, shard_size=2048, keep_shards=True)
    assert again.stat().st_mtime_ns == before  # verified and reused, not rewritten


def test_a_pipeline_keeps_its_shards_as_the_dataset_and_the_run_folder_loads(local_ray, tmp_path):
    datasets = pytest.importorskip("datasets")
    from cookbook.engine import read_samples
    from cookbook.pipeline import runner
    from cookbook.pipeline.config import load_pipeline

    def run(folder, execution: str):
        folder.mkdir()
        path = folder / "pipeline.yaml"
        path.write_text(
            "name: kept\noutput_dir: out\nseed: 2\ntemplates: [document_qa, retrieval]\n"
            f"{execution}generate:\n  samples: 5000\n"
        )
        runner.run(load_pipeline(path))
        return folder / "out"

    kept = run(tmp_path / "kept", "execution: {engine: ray, shard_size: 2048, keep_shards: true}\n")
    local = run(tmp_path / "local", "")
    shards = sorted((kept / "samples").iterdir())
    assert [p.name for p in shards] == [f"train-{i:05d}-of-00003.jsonl" for i in range(3)]
    assert b"".join(p.read_bytes() for p in shards) == (local / "samples.jsonl").read_bytes()
    assert list(read_samples(kept / "samples")) == list(read_samples(local / "samples.jsonl"))
    cache = str(tmp_path / "hf")  # not the shared cache: it keys a folder by its name
    loaded = datasets.load_dataset(str(kept), split="train", cache_dir=cache)
    assert loaded["id"] == [r["id"] for r in read_samples(local / "samples.jsonl")]
