"""Numbers, paths and models in a pipeline: each bad one is a clear error when the pipeline is
validated (file, line, JSON path), never an exception or a hang once the run has started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cookbook.contract.errors import CookbookError
from cookbook.pipeline import cache
from cookbook.pipeline.config import load_pipeline

GOOD = """\
name: good
seed: 1
output_dir: out
templates:
  - name: document_qa
    params: {k: 2}
generate:
  samples: 20
"""
TASK = "tasks:\n  - {name: qa, type: squad, path: data.json%s}\n"
TRAIN = "model: smollm2-135m-instruct\ntoken_space: pseudowords\ntrain: {trainer: lora%s}\n"


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "data.json").write_text('{"data": []}')
    path = tmp_path / "pipeline.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cookbook", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """An empty Hugging Face cache and downloads not allowed."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "COOKBOOK_ALLOW_DOWNLOAD"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def param(template: str, params: str) -> str:
    return GOOD.replace(
        "name: document_qa\n    params: {k: 2}", f"name: {template}\n    params: {params}"
    )


BAD = [
    # integers are integers, within 2**53; numbers are finite
    (
        "float samples",
        GOOD.replace("samples: 20", "samples: 5.0"),
        [":8: generate.samples: 5.0 is not of type 'integer' (an integer has no decimal point: 5)"],
    ),
    (
        "float seed",
        GOOD.replace("seed: 1", "seed: 5.0"),
        [":2: seed: 5.0 is not of type 'integer'"],
    ),
    (
        "float template length",
        GOOD.replace("{k: 2}", "{k: 2.0}"),
        [":6: templates[0].params.k: 2.0 is not of type 'integer'"],
    ),
    (
        "huge eval_limit",
        GOOD + TASK % ", eval_limit: 9223372036854775808",
        [":10: tasks[0].eval_limit: 9223372036854775808 is out of range: an integer here lies"],
    ),
    (
        "float eval_limit",
        GOOD + TASK % ", eval_limit: 1.0e+308",
        [":10: tasks[0].eval_limit: 1e+308 is not of type 'integer'"],
    ),
    (
        "float dev_skip",
        GOOD + TASK % ", dev_skip: 2.0",
        [":10: tasks[0].dev_skip: 2.0 is not of type 'integer'"],
    ),
    (
        "infinite learning rate",
        GOOD + TRAIN % ", learning_rate: .inf",
        [":11: train.learning_rate: .inf is not a finite number"],
    ),
    (
        "nan share",
        GOOD.replace("{k: 2}", "{question_noise: .nan}"),
        [":6: templates[0].params.question_noise: .nan is not a finite number"],
    ),
    (
        "huge template length",
        param("multiple_choice", "{max_context: 10000000}"),
        [":6: templates[0].params.max_context: 10000000 is greater than the maximum of 100000"],
    ),
    (
        "a million workers",
        GOOD.replace("samples: 20", "samples: 20\n  workers: 1000000"),
        [":9: generate.workers: 1000000 is greater than the maximum of 1024"],
    ),
    # contradictory bounds
    (
        "document_qa words",
        GOOD.replace("{k: 2}", "{min_words: 50, max_words: 10}"),
        [
            ":6: templates[0].params.min_words: min_words (50) is more than max_words (10):"
            " min_words must be at most max_words"
        ],
    ),
    (
        "a bound against the other's default",
        GOOD.replace("{k: 2}", "{max_words: 30}"),
        ["templates[0].params.max_words: min_words (40, its default) is more than max_words (30)"],
    ),
    (
        "entity_matching values",
        param("entity_matching", "{min_value: 9, max_value: 2}"),
        ["templates[0].params.min_value: min_value (9) is more than max_value (2)"],
    ),
    (
        "fill_in_the_blank match",
        param("fill_in_the_blank", "{min_match: 5, max_match: 1}"),
        ["templates[0].params.min_match: min_match (5) is more than max_match (1)"],
    ),
    # a template listed twice would write samples with the same ids
    (
        "template twice",
        GOOD.replace(
            "templates:\n", "templates:\n  - name: document_qa\n    params: {side: after}\n"
        ),
        [
            ":7: templates[1].name: template 'document_qa' is listed twice (also templates[0]):"
            " list each template once"
        ],
    ),
    (
        "template twice by its plugin's name",
        GOOD.replace("templates:\n", "templates:\n  - qa:document_qa\n"),
        ["templates[1].name: template 'document_qa' is listed twice (also templates[0])"],
    ),
    # data paths: a regular file or a folder, never a device or /proc
    (
        "device as task data",
        GOOD + TASK.replace("data.json", "/dev/zero") % "",
        [":10: tasks[0].path: /dev/zero is not a regular file or a folder (a device, fifo"],
    ),
    (
        "/proc as development data",
        GOOD + TASK % ", dev_path: /proc/self",
        [":10: tasks[0].dev_path: /proc/self is in a virtual file system (/proc, /sys)"],
    ),
    (
        "a NUL in a path",
        GOOD + TASK.replace("data.json", '"data\\0.json"') % "",
        [":10: tasks[0].path: a path cannot hold a NUL character"],
    ),
    (
        "a NUL in output_dir",
        GOOD.replace("output_dir: out", 'output_dir: "o\\0ut"'),
        [":3: output_dir: a path cannot hold a NUL character"],
    ),
    (
        "device as a file parameter",
        GOOD + "mix: {mixer: cvxpy, scores: file, file: /dev/null}\n",
        ["mix.file: /dev/null is not a regular file or a folder"],
    ),
    # the run folder
    (
        "output_dir a file",
        GOOD.replace("output_dir: out", "output_dir: data.json"),
        [":3: output_dir: ", "data.json is not a folder"],
    ),
    (
        "output_dir under a device",
        GOOD.replace("output_dir: out", "output_dir: /dev/null/x"),
        [":3: output_dir: /dev/null/x cannot be made: /dev/null is not a folder"],
    ),
    (
        "output_dir the pipeline's folder",
        GOOD.replace("output_dir: out", "output_dir: ."),
        [":3: output_dir: ", "holds this pipeline file; a run writes pipeline.yaml, README.md"],
    ),
    # models: an alias, a model folder, or a hub name in the local cache
    (
        "misspelt model",
        GOOD + "model: smollm2-135m-instructt\n",
        [
            ":9: model: model 'smollm2-135m-instructt': not a known alias",
            "did you mean 'smollm2-135m-instruct'?",
            "set COOKBOOK_ALLOW_DOWNLOAD=1",
        ],
    ),
    (
        "a folder that is not a model",
        GOOD + "model: /tmp\n",
        [":9: model: model '/tmp': /tmp is a folder but not a model folder (it has no config"],
    ),
    (
        "misspelt tokenizer",
        GOOD + "token_space: tokenizer:smollm2\n",
        [":9: token_space: token space 'tokenizer:smollm2': model 'smollm2': not a known alias"],
    ),
    # devices
    (
        "device by another name",
        GOOD + TRAIN % ", device: gpu",
        [
            ":11: train.device: 'gpu' is not of the form: auto (CUDA when available), cpu, cuda,"
            " cuda:N, mps."
        ],
    ),
]


@pytest.mark.parametrize("label, text, fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_reported_with_its_place(tmp_path, label, text, fragments):
    path = write(tmp_path, text)
    with pytest.raises(CookbookError) as err:
        load_pipeline(path)
    message = str(err.value)
    assert message.startswith("1 error in pipeline.yaml"), message
    for fragment in fragments:
        assert fragment in message, message
    assert str(path) in message


def test_a_model_misspelt_fails_at_once_and_writes_nothing(tmp_path):
    path = write(tmp_path, GOOD + "model: smollm2-135m-instructt\n")
    for command in ("validate", "run"):
        result = cli(command, str(path))
        assert result.returncode == 1
        assert "did you mean 'smollm2-135m-instruct'?" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_cuda_on_a_machine_without_it_is_refused_when_validating(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    path = write(tmp_path, GOOD + TRAIN % ", device: 'cuda:7'")
    with pytest.raises(CookbookError) as err:
        load_pipeline(path)
    assert ":11: train.device: device 'cuda:7': this machine has no CUDA GPU" in str(err.value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(CookbookError, match=r"this machine has 2 CUDA GPUs \(cuda:0 to cuda:1\)"):
        load_pipeline(path)
    load_pipeline(path, [("train.device", "cuda:1")])


def test_a_model_folder_and_a_cached_hub_model_are_accepted(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert load_pipeline(write(tmp_path, GOOD + f"model: {folder}\n")).context.model == str(folder)
    snapshot = tmp_path / "hf" / "hub" / "models--org--tiny" / "snapshots" / "r1"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    load_pipeline(write(tmp_path, GOOD + "model: org/tiny\n"))
    with pytest.raises(CookbookError, match="did you mean 'org/tiny'"):
        load_pipeline(write(tmp_path, GOOD + "model: org/tiyn\n"))
    monkeypatch.setenv("COOKBOOK_ALLOW_DOWNLOAD", "1")
    load_pipeline(write(tmp_path, GOOD + "model: org/tiyn\n"))


def test_a_folder_of_the_users_is_never_a_run_folder(tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "README.md").write_text("my notes")
    path = write(tmp_path, GOOD.replace("output_dir: out", "output_dir: mine"))
    with pytest.raises(CookbookError) as err:
        load_pipeline(path)
    assert "mine holds files (README.md) and is not a Cookbook run folder" in str(err.value)
    result = cli("run", str(path))
    assert result.returncode == 1 and "not a Cookbook run folder" in result.stderr
    assert [p.name for p in user.iterdir()] == ["README.md"]
    assert (user / "README.md").read_text() == "my notes"
    # an empty folder, a new one, and a run folder (run again) are fine
    (tmp_path / "empty").mkdir()
    load_pipeline(path, [("output_dir", "empty")])
    load_pipeline(path, [("output_dir", "new/deeper")])


def test_the_pipeline_folder_as_output_dir_overwrites_nothing(tmp_path):
    path = write(tmp_path, GOOD.replace("output_dir: out", "output_dir: ."))
    (tmp_path / "README.md").write_text("my readme")
    before = path.read_text()
    result = cli("run", str(path))
    assert result.returncode == 1
    assert "holds this pipeline file" in result.stderr
    assert path.read_text() == before and (tmp_path / "README.md").read_text() == "my readme"
    assert not (tmp_path / "steps").exists() and not (tmp_path / "manifest.json").exists()


def test_a_run_folder_runs_again_also_from_the_pipeline_it_keeps(tmp_path):
    path = write(tmp_path, GOOD.replace("samples: 20", "samples: 4"))
    assert cli("run", str(path)).returncode == 0
    assert cli("run", str(path)).returncode == 0  # the run folder is its own
    kept = tmp_path / "out" / "pipeline.yaml"
    result = cli("run", str(kept))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [s["name"] for s in manifest["steps"]] == ["generate"]


def test_a_folder_of_too_many_files_is_refused_as_task_data(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "DIGEST_MAX_FILES", 5)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(7):
        (folder / f"{i}.json").write_text("{}")
    path = write(tmp_path, GOOD + TASK.replace("data.json", "many") % "")
    with pytest.raises(CookbookError, match=r"tasks\[0\].path: .*many: a folder of more than 5"):
        load_pipeline(path)


def test_an_unwritable_place_for_the_run_folder_is_refused(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes anywhere: the permission check is what is tested
        import cookbook.pipeline.config as config

        allowed = os.access
        monkeypatch.setattr(
            config.os, "access", lambda path, mode: Path(path) != locked and allowed(path, mode)
        )
    path = write(tmp_path, GOOD.replace("output_dir: out", "output_dir: locked/run"))
    with pytest.raises(CookbookError, match="cannot be made: the folder .*locked is not writable"):
        load_pipeline(path)


def test_cli_options_are_checked_at_once(tmp_path):
    out = tmp_path / "x.jsonl"
    result = cli("generate", "document_qa", "-n", "3", "--tokens", "tokenizer:smollm2", "-o", out)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "token space 'tokenizer:smollm2': model 'smollm2': not a known alias" in result.stderr
    result = cli("generate", "document_qa", "-n", "3", "-p", "document_qa.k=3.0", "-o", out)
    assert result.returncode == 1
    assert "k: 3.0 is not of type 'integer'" in result.stderr
    result = cli(
        "generate", "multiple_choice", "-n", "3", "-p", "multiple_choice.max_context=10000000",
        "-o", out,
    )  # fmt: skip
    assert result.returncode == 1 and "greater than the maximum of 100000" in result.stderr
    samples = tmp_path / "s.jsonl"
    samples.write_text("")
    result = cli("train", "--data", samples, "--model", "smollm2-135m-instructt", "-o", out)
    assert result.returncode == 1 and "did you mean 'smollm2-135m-instruct'?" in result.stderr
    assert not out.exists()
