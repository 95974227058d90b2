"""``cookbook export`` writes folders ``datasets.load_dataset`` reads as they are, in four
formats, and ``cookbook train --data`` trains on each of them exactly as on the samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("peft")
datasets = pytest.importorskip("datasets")

from tiny_llama import build_tiny_llama, mapping_pairs, vocabulary, write_samples  # noqa: E402

from cookbook.cli import app  # noqa: E402
from cookbook.contract.errors import CookbookError  # noqa: E402

QUIET = ["-p", "progress=false", "-p", "num_threads=1", "-p", "max_steps=2", "-p", "batch_size=4"]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def load(folder, tmp_path):
    """``datasets.load_dataset`` with a cache of the test's own (the default one would
    answer for another test's folder of the same file names)."""
    return datasets.load_dataset(str(folder), split="train", cache_dir=str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    pairs = mapping_pairs(16)
    model = build_tiny_llama(root / "model", vocabulary(pairs))
    return write_samples(root / "samples.jsonl", pairs), str(model), pairs


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def losses(data: Path, model: str, out: Path) -> list[float]:
    run("train", "--data", str(data), "--model", model, "--output", str(out), *QUIET)
    return json.loads((out / "train_metrics.json").read_text())["loss"]


@pytest.mark.parametrize("fmt", ["hf", "messages", "prompt-completion", "alpaca"])
def test_an_export_loads_in_datasets_and_trains_as_the_samples_do(setup, tmp_path, fmt):
    samples, model, pairs = setup
    folder = tmp_path / "exported"
    run("export", str(samples), "-o", str(folder), "--format", fmt, "--shard-rows", "5")
    assert len(list((folder / "data").glob("train-*-of-00004.*"))) == 4  # 16 rows, 5 a shard
    loaded = load(folder, tmp_path)
    assert loaded.num_rows == 16
    first = loaded[0]
    prompt, completion = pairs[0]
    expected = {
        "hf": lambda: first["prompt"] == prompt and first["slots"] == {} and first["index"] == 0,
        "messages": lambda: (
            first["messages"]
            == [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": completion.strip()},
            ]
        ),
        "prompt-completion": lambda: (first["prompt"], first["completion"]) == pairs[0],
        "alpaca": lambda: (
            (first["instruction"], first["input"], first["output"])
            == (prompt, "", completion.strip())
        ),
    }[fmt]
    assert expected(), first
    assert losses(folder, model, tmp_path / "a") == losses(samples, model, tmp_path / "b")


def test_an_exported_run_keeps_its_card_and_loads_by_its_header(tmp_path):
    from test_pipeline_run import BASIC, write

    from cookbook.pipeline import runner
    from cookbook.pipeline.config import load_pipeline

    runner.run(load_pipeline(write(tmp_path, BASIC)))
    run("export", str(tmp_path / "out"), "-o", str(tmp_path / "hf"))
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "path: data/train-*.parquet" in card and "\n## Templates" not in card
    assert "### Templates" in card and "document_qa" in card and "seed 2" in card
    loaded = load(tmp_path / "hf", tmp_path)
    written = [json.loads(x) for x in (tmp_path / "out" / "samples.jsonl").read_text().split("\n")
               if x]  # fmt: skip
    assert list(loaded) == written  # slots come back as the dicts they were


def test_export_refuses_a_used_folder_and_leaves_nothing_after_a_bad_record(setup, tmp_path):
    samples, _, _ = setup
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("")
    with pytest.raises(CookbookError, match="exists and is not an empty folder"):
        run("export", str(samples), "-o", str(used))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(samples.read_text() + '{"prompt": "only a prompt"}\n')
    with pytest.raises(CookbookError, match=r"bad\.jsonl:17: needs 'prompt' and"):
        run("export", str(bad), "-o", str(tmp_path / "new"), "--format", "messages")
    assert not (tmp_path / "new").exists() and not list(tmp_path.glob(".new*"))


def test_training_reads_chat_and_alpaca_rows_and_names_a_bad_one(tmp_path):
    from cookbook.engine import training_pairs

    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        json.dumps({"messages": [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "Hi?"},
                                 {"role": "assistant", "content": "Hello."}]}) + "\n"
        + json.dumps({"instruction": "Add.", "input": "1 and 2", "output": "3"}) + "\n"
        + json.dumps({"text": "no shape"}) + "\n"
    )  # fmt: skip
    found = training_pairs(rows)
    assert next(found)[:2] == ("Hi?", " Hello.")
    assert next(found)[:2] == ("Add.\n\n1 and 2", " 3")
    with pytest.raises(CookbookError, match=r"rows\.jsonl:3: not a training record"):
        next(found)
