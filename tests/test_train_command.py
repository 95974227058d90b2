"""``cookbook train``: parameters reach the trainer, outputs land in --output, resume continues."""

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
    result = run("--data", data, "--model", model, "-p", "max_steps=3", "-p", "batch_size=2",
                 "-p", "lora_r=2", "--output", str(out), "-p", "lora_alpha=4", *QUIET)  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["step"] == 3 and len(metrics["loss"]) == 3
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["r"] == 2 and adapter["lora_alpha"] == 4
    assert json.loads((out / "train_config.json").read_text())["params"]["batch_size"] == 2
    info = json.loads((out / "cookbook_model.json").read_text())
    assert info == {"base": model, "chat_template": False, "trainer": "lora", "adapter": True}


def test_resume_continues_from_the_last_checkpoint(setup, tmp_path):
    data, model = setup
    out = str(tmp_path / "out")
    common = ["--data", data, "--model", model, "--output", out, "-p", "batch_size=2", *QUIET]
    first = run(*common, "-p", "max_steps=4", "-p", "checkpoint_every=2")
    assert first.exit_code == 0, first.output
    again = run(*common, "-p", "max_steps=4", "-p", "checkpoint_every=2")
    assert isinstance(again.exception, CookbookError)
    assert "-p resume=true" in str(again.exception)
    resumed = run(*common, "-p", "max_steps=4", "-p", "checkpoint_every=2", "-p", "resume=true")
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


def test_help_lists_the_options_and_every_trainer_parameter():
    result = CliRunner().invoke(app, ["train", "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for option in ("--data", "--model", "--output", "--trainer", "--param"):
        assert option in text
    for fragment in (
        "trainer lora",
        "max_steps (integer or null) = null",
        "lora_r (integer) = 16: LoRA rank.",
        "lora_target_modules (string or array)",
        'resume (one of true, false, "auto")',
    ):
        assert fragment in text, result.output
    assert "--lora-r" not in text and "--max-steps" not in text


def test_a_misspelt_trainer_parameter_suggests_the_right_one(setup, tmp_path):
    data, model = setup
    result = run("--data", data, "--model", model, "-p", "max_step=3", "-o", str(tmp_path / "o"))
    assert isinstance(result.exception, CookbookError)
    message = str(result.exception)
    assert "trainer 'lora': max_step: unknown parameter 'max_step'; did you mean 'max_steps'?" in (
        message
    )
    assert not (tmp_path / "o").exists()


def test_default_output_is_named_after_the_model():
    assert default_output("smollm2-135m-instruct") == Path("runs/lora-smollm2-135m-instruct")
    assert default_output("/models/My Model/") == Path("runs/lora-My-Model")
    assert default_output("smollm2", "extras:quick") == Path("runs/quick-smollm2")
