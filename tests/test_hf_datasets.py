"""A run folder loads as it is with Hugging Face ``datasets``: the card's YAML header names the
run's samples file as the train split, so the manifest and step folders are left alone."""

from __future__ import annotations

import json

import pytest
import yaml

datasets = pytest.importorskip("datasets")

from test_pipeline_run import BASIC, write  # noqa: E402

from cookbook.pipeline import runner  # noqa: E402
from cookbook.pipeline.config import load_pipeline  # noqa: E402


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def load(folder, tmp_path):
    """``datasets.load_dataset`` with a cache of the test's own (the default one would
    answer for another test's folder of the same file names)."""
    return datasets.load_dataset(str(folder), split="train", cache_dir=str(tmp_path / "cache"))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_datasets_loads_a_run_folder_as_it_is(tmp_path, fmt):
    text = BASIC + (f"  format: {fmt}\n" if fmt == "parquet" else "")
    runner.run(load_pipeline(write(tmp_path, text)))
    root = tmp_path / "out"
    card = (root / "README.md").read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": f"samples.{fmt}"}]}
    ]
    assert header["size_categories"] == ["n<1K"] and "# basic" in card
    loaded = load(root, tmp_path)
    assert loaded.num_rows == 40
    if fmt == "jsonl":
        rows = [json.loads(x) for x in (root / "samples.jsonl").read_text().splitlines()]
    else:
        import pyarrow.parquet as pq

        rows = pq.read_table(root / "samples.parquet").to_pylist()
    assert loaded["id"] == [r["id"] for r in rows]
    assert loaded["prompt"] == [r["prompt"] for r in rows]
    assert loaded["completion"] == [r["completion"] for r in rows]
    assert {r["template"] for r in loaded} == {"document_qa", "retrieval"}


def test_load_dataset_gives_the_records_cookbook_generate_writes(tmp_path):
    import cookbook
    from cookbook.engine import Job, generate

    registry = cookbook.get_registry()
    jobs = [Job(n, c, registry.get("templates", n).resolve(None))
            for n, c in (("document_qa", 4), ("retrieval", 3))]  # fmt: skip
    generate(jobs, 7, tmp_path / "s.jsonl", workers=1)
    written = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]

    loaded = cookbook.load_dataset(
        ["document_qa", "retrieval"], 7, seed=7, weights={"document_qa": 4, "retrieval": 3}
    )
    assert isinstance(loaded, datasets.Dataset) and list(loaded) == written
    weights = {"document_qa": 4, "retrieval": 3}
    streamed = cookbook.load_dataset(["document_qa", "retrieval"], 7, seed=7, weights=weights,
                                     streaming=True)  # fmt: skip
    assert isinstance(streamed, datasets.IterableDataset) and list(streamed) == written
    assert list(streamed.take(2)) == written[:2]


def test_load_dataset_reads_a_pipeline_and_refuses_bad_input(tmp_path):
    import cookbook
    from cookbook import CookbookError

    path = write(tmp_path, BASIC)
    loaded = cookbook.load_dataset(path, 6)
    assert {r["template"] for r in loaded} == {"document_qa", "retrieval"}
    assert all(r["seed"] == 2 for r in loaded)  # the pipeline's seed
    assert all(20 <= len(r["slots"]["document"].split()) <= 30
               for r in loaded if r["template"] == "document_qa")  # fmt: skip
    with pytest.raises(CookbookError, match="unknown template 'nope'|'nope'"):
        cookbook.load_dataset("nope", 3)
    with pytest.raises(CookbookError, match="n must be a whole number"):
        cookbook.load_dataset("document_qa", 0)
    with pytest.raises(CookbookError, match="weights name 'other'"):
        cookbook.load_dataset("document_qa", 3, weights={"other": 1})
