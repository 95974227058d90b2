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
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))


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
    loaded = datasets.load_dataset(str(root), split="train")
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
