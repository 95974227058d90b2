"""``cookbook train``: options reach the trainer, outputs land in --output, --resume continues."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("peft")

from tiny_llama import build_tiny_llama, mapping_pairs, vocabulary, write_samples  # noqa: E402

from cookbook.cli import app  # noqa: E402
from cookbook.cli.train import default_output  # noqa: E402
from cookbook.contract.errors import CookbookError  # noqa: E402

QUIET = ["-p", "progress=false", "-p", "num_threads=1"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train_cli")
    pairs = mapping_pairs(32)
    model = build_tiny_llama(root / "model", vocabulary(pairs))
    return str(write_samples(root / "samples.jsonl", pairs)), str(model)


def run(*args: str):
    return CliRunner().invoke(app, ["train", *args])


def test_options_reach_the_trainer_and_outputs_land_in_the_folder(setup, tmp_path):
    data, model = setup
    out = tmp_path / "out"
    result = run("--data", data, "--model", model, "--max-steps", "3", "--batch-size", "2",
                 "--lora-r", "2", "--output", str(out), "-p", "lora_alpha=4", *QUIET)  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["step"] == 3 and len(metrics["loss"]) == 3
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["r"] == 2 and adapter["lora_alpha"] == 4
    assert json.loads((out / "train_config.json").read_text())["params"]["batch_size"] == 2


def test_resume_continues_from_the_last_checkpoint(setup, tmp_path):
    data, model = setup
    out = str(tmp_path / "out")
    common = ["--data", data, "--model", model, "--output", out, "--batch-size", "2", *QUIET]
    first = run(*common, "--max-steps", "4", "-p", "checkpoint_every=2")
    assert first.exit_code == 0, first.output
    again = run(*common, "--max-steps", "4", "-p", "checkpoint_every=2")
    assert isinstance(again.exception, CookbookError) and "--resume" in str(again.exception)
    resumed = run(*common, "--max-steps", "4", "-p", "checkpoint_every=2", "--resume")
    assert resumed.exit_code == 0, resumed.output
    metrics = json.loads((Path(out) / "train_metrics.json").read_text())
    assert metrics["start_step"] == 2 and len(metrics["loss"]) == 2


def test_missing_data_and_unknown_trainer_are_clear_errors(setup, tmp_path):
    data, model = setup
    missing = run("--data", str(tmp_path / "none.jsonl"), "--model", model)
    assert isinstance(missing.exception, CookbookError)
    assert "none.jsonl: no such file" in str(missing.exception)
    unknown = run("--data", data, "--model", model, "--trainer", "lorra")
    assert isinstance(unknown.exception, CookbookError)
    assert "did you mean 'lora'" in str(unknown.exception)


def test_help_lists_the_documented_options():
    result = CliRunner().invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    for option in [
        "--data",
        "--model",
        "--max-steps",
        "--batch-size",
        "--lora-r",
        "--output",
        "--resume",
    ]:
        assert option in result.output


def test_default_output_is_named_after_the_model():
    assert default_output("smollm2-135m-instruct") == Path("runs/lora-smollm2-135m-instruct")
    assert default_output("/models/My Model/") == Path("runs/lora-My-Model")
