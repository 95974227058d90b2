"""Running pipelines: steps in order, cached re-runs, resume after a kill, the run folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cookbook.contract.errors import CookbookError
from cookbook.pipeline import runner
from cookbook.pipeline.config import load_pipeline
from cookbook.registry import reset_registry

FIXTURES = Path(__file__).parent / "fixtures" / "pipeline"

#: An alias of the embedded model: a model name that validates without network.
MODEL = "model: smollm2-135m-instruct\n"
BASIC = """\
name: basic
seed: 2
output_dir: out
templates:
  - name: document_qa
    params: {min_words: 20, max_words: 30}
  - retrieval
generate:
  samples: 40
"""


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("tiny_squad.json", "scores.csv"):
        shutil.copy(FIXTURES / name, folder / name)
    path = folder / "pipeline.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and "logs" not in p.parts
    }


def test_run_writes_run_folder_and_rerun_is_cached_and_changes_nothing(tmp_path):
    pipeline = load_pipeline(write(tmp_path, BASIC))
    manifest = runner.run(pipeline)
    root = tmp_path / "out"
    assert [s["name"] for s in manifest["steps"]] == ["generate"]
    samples = [json.loads(x) for x in (root / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 40 and {s["template"] for s in samples} == {"document_qa", "retrieval"}
    for name in ("pipeline.yaml", "manifest.json", "README.md", "logs/run.log"):
        assert (root / name).exists(), name
    card = (root / "README.md").read_text()
    assert "document_qa" in card and "retrieval" in card and "seed 2" in card

    before = snapshot(root)
    assert all(step.cached for step in runner.plan(pipeline))
    runner.run(load_pipeline(tmp_path / "pipeline.yaml"))
    assert snapshot(root) == before


def test_changed_input_reruns_only_that_step(tmp_path):
    path = write(tmp_path, BASIC)
    runner.run(load_pipeline(path))
    changed = load_pipeline(path, [("seed", 3)])
    assert [step.cached for step in runner.plan(changed)] == [False]
    runner.run(changed)
    assert len(list((tmp_path / "out" / "steps").glob("generate-*"))) == 2


def test_editing_a_template_plugin_reruns_its_steps(echo_plugin, tmp_path):
    site = echo_plugin
    path = write(tmp_path / "run", BASIC.replace("  - retrieval\n", "  - echo\n"))
    runner.run(load_pipeline(path))
    assert all(step.cached for step in runner.plan(load_pipeline(path)))
    module = site / "cookbook_template_echo_plugin.py"
    module.write_text(module.read_text().replace("Echo: {words}", "Repeat: {words}"))
    sys.modules.pop(module.stem)  # as a new process would import it
    reset_registry()
    assert [step.cached for step in runner.plan(load_pipeline(path))] == [False]
    runner.run(load_pipeline(path))
    samples = (tmp_path / "run" / "out" / "samples.jsonl").read_text()
    assert '"prompt":"Repeat: ' in samples and '"prompt":"Echo: ' not in samples


def test_development_records_come_from_dev_path_after_dev_skip(tmp_path):
    from cookbook import TaskUse
    from cookbook_plugins.steps.common import task_records

    write(tmp_path, BASIC)
    squad = str(tmp_path / "tiny_squad.json")
    task = TaskUse(name="qa", type="squad", path="unused.json")
    every = task_records(TaskUse(**{**task.__dict__, "dev_path": squad}), None)
    assert len(every) >= 3
    skipped = task_records(TaskUse(**{**task.__dict__, "dev_path": squad, "dev_skip": 1}), 2)
    assert [r.id for r in skipped] == [r.id for r in every[1:3]]
    plain = task_records(TaskUse(**{**task.__dict__, "path": squad}), 2)
    assert [r.id for r in plain] == [r.id for r in every[:2]]


def test_score_mix_generate_with_file_and_alignment_scores(tmp_path):
    text = BASIC.replace("samples: 40", "samples: 30") + textwrap.dedent("""\
        tasks:
          - {name: qa, type: squad, path: tiny_squad.json}
        mix:
          mixer: cvxpy
          scores: file
          file: scores.csv
          objective: maxmin
        """)
    manifest = runner.run(load_pipeline(write(tmp_path, text)))
    steps = {s["name"]: s["outputs"] for s in manifest["steps"]}
    assert list(steps) == ["score", "mix", "generate"]
    assert steps["score"]["scores"]["n"] == {"qa": 3}
    assert 0.0 <= steps["score"]["scores"]["scores"]["qa"]["document_qa"] <= 1.0
    weights = steps["mix"]["mixture"]["weights"]
    # max-min of [[.6,.2],[.1,.9]]: .6w + .2(1-w) = .1w + .9(1-w) -> w = 7/12
    assert abs(weights["document_qa"] - 7 / 12) < 1e-3
    assert steps["generate"]["data"]["counts"] == {"document_qa": 17, "retrieval": 13}
    card = (tmp_path / "out" / "README.md").read_text()
    assert "Alignment statistics" in card and "Mixture (cvxpy" in card


def test_killed_run_resumes_to_the_same_bytes(tmp_path):
    big = BASIC.replace("samples: 40", "samples: 15000").replace("max_words: 30", "max_words: 200")
    clean = write(tmp_path / "clean", big)
    runner.run(load_pipeline(clean))
    expected = (tmp_path / "clean" / "out" / "samples.jsonl").read_bytes()

    killed = write(tmp_path / "killed", big)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cookbook", "run", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    stages = tmp_path / "killed" / "out" / "steps"
    deadline = time.time() + 60
    while time.time() < deadline and not list(stages.glob("generate-*.partial/*.partial")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(stages.glob("generate-*.partial")), "the run was not caught mid-step"
    assert not [p for p in stages.glob("generate-*") if not p.name.endswith(".partial")]
    assert not (tmp_path / "killed" / "out" / "samples.jsonl").exists()

    runner.run(load_pipeline(killed))
    assert (tmp_path / "killed" / "out" / "samples.jsonl").read_bytes() == expected
    assert not list(stages.glob("*.partial"))


def test_plan_and_validate_show_the_steps_and_what_is_cached(tmp_path):
    from typer.testing import CliRunner

    from cookbook.cli import app

    text = BASIC + textwrap.dedent("""\
        tasks:
          - {name: qa, type: squad, path: tiny_squad.json}
        mix: {mixer: cvxpy, scores: file, file: scores.csv}
        """)
    path = write(tmp_path, text)
    valid = CliRunner().invoke(app, ["validate", str(path)])
    assert valid.exit_code == 0, valid.output
    assert "steps: score, mix, generate" in " ".join(valid.output.split())
    before = CliRunner().invoke(app, ["plan", str(path)])
    assert before.exit_code == 0, before.output
    rows = [line for line in before.output.splitlines() if "│" in line and "step" not in line]
    assert [row.split("│")[1].strip() for row in rows] == ["score", "mix", "generate"]
    assert "mixture: mix" in before.output and before.output.count("to run") == 3
    runner.run(load_pipeline(path))
    after = CliRunner().invoke(app, ["plan", str(path)])
    assert after.output.count("cached") == 3 and "to run" not in after.output


def test_a_mix_file_edited_in_place_reruns_the_mix(tmp_path):
    text = BASIC + "mix: {mixer: cvxpy, scores: file, file: scores.csv, objective: maxmin}\n"
    path = write(tmp_path, text)
    runner.run(load_pipeline(path))
    scores = tmp_path / "scores.csv"
    scores.write_text(scores.read_text().replace("0.6", "0.7"))
    cached = {step.name: step.cached for step in runner.plan(load_pipeline(path))}
    assert cached == {"mix": False, "generate": False}


def test_the_run_folder_keeps_a_resolved_pipeline_that_plans_the_same_steps(tmp_path):
    text = BASIC + textwrap.dedent("""\
        tasks:
          - {name: qa, type: squad, path: tiny_squad.json}
        mix: {mixer: cvxpy, scores: file, file: scores.csv}
        """)
    pipeline = load_pipeline(write(tmp_path, text))
    runner.run(pipeline)
    kept = tmp_path / "out" / "pipeline.yaml"
    moved = tmp_path / "elsewhere" / "pipeline.yaml"
    moved.parent.mkdir()
    shutil.copy(kept, moved)  # paths in it are absolute: it loads from anywhere
    again = load_pipeline(moved)
    assert [(s.name, s.kind) for s in again.steps] == [(s.name, s.kind) for s in pipeline.steps]
    assert [s.hash for s in runner.plan(again)] == [s.hash for s in runner.plan(pipeline)]
    assert all(step.cached for step in runner.plan(again))


def test_parameters_that_change_nothing_stay_out_of_the_cache_key(tmp_path):
    path = write(tmp_path, BASIC + MODEL + "train: {trainer: lora, max_steps: 3}\n")
    hashes = {s.name: s.hash for s in runner.plan(load_pipeline(path))}
    quiet = load_pipeline(path, [("train.progress", False), ("generate.workers", 1)])
    assert {s.name: s.hash for s in runner.plan(quiet)} == hashes
    longer = load_pipeline(path, [("train.max_steps", 4)])
    changed = {s.name: s.hash != hashes[s.name] for s in runner.plan(longer)}
    assert changed == {"generate": False, "train": True}
    seeded = load_pipeline(path, [("seed", 5)])
    assert all(s.hash != hashes[s.name] for s in runner.plan(seeded))


RECORDER = """
import json
from pathlib import Path

from cookbook import ModelInfo, Params, hookimpl


class Recorder:
    name = "recorder"

    def train(self, data, model, output_dir, *, seed: int = 0, resume: bool | str = False):
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        (Path(output_dir) / "seen.json").write_text(json.dumps({"seed": seed, "resume": resume}))
        ModelInfo(base=model, chat_template=False, trainer=self.name).save(output_dir)
        return {"loss": [1.0], "step": 1}

    params = Params.of(train)


@hookimpl
def register_trainers(register):
    register(Recorder())
"""


def test_the_pipeline_seed_reaches_the_trainer_unless_the_train_section_sets_one(
    install_fake, tmp_path
):
    install_fake("cookbook-recorder", "recorder", RECORDER)
    text = BASIC.replace("seed: 2", "seed: 7") + MODEL + "token_space: pseudowords\n"
    text += "train: {trainer: recorder}\n"
    path = write(tmp_path, text)
    manifest = runner.run(load_pipeline(path))
    model = {s["name"]: s for s in manifest["steps"]}["train"]
    seen = tmp_path / "out" / model["folder"] / "model" / "seen.json"
    assert json.loads(seen.read_text()) == {"seed": 7, "resume": "auto"}
    assert model["outputs"]["model"]["chat_template"] is False
    manifest = runner.run(load_pipeline(path, [("train.seed", 3)]))
    model = {s["name"]: s for s in manifest["steps"]}["train"]
    seen = tmp_path / "out" / model["folder"] / "model" / "seen.json"
    assert json.loads(seen.read_text())["seed"] == 3


PROXY = BASIC + textwrap.dedent("""\
    model: smollm2-135m-instruct
    token_space: pseudowords
    tasks:
      - {name: qa, type: squad, path: tiny_squad.json}
    mix: {mixer: cvxpy, scores: proxy}
    train: {trainer: lora, max_steps: 2}
    """)


def test_proxy_runs_are_checked_and_cached_by_what_changes_them(tmp_path):
    path = write(tmp_path, PROXY)
    hashes = {s.name: s.hash for s in runner.plan(load_pipeline(path))}
    quiet = load_pipeline(path, [("train.progress", False)])
    assert {s.name: s.hash for s in runner.plan(quiet)} == hashes
    longer = {s.name: s.hash for s in runner.plan(load_pipeline(path, [("train.max_steps", 3)]))}
    assert longer["mix"] != hashes["mix"] and longer["score"] == hashes["score"]
    graph = textwrap.dedent("""\
        name: p
        output_dir: out
        model: smollm2-135m-instruct
        token_space: pseudowords
        templates: [document_qa]
        tasks:
          - {name: qa, type: squad, path: tiny_squad.json}
        steps:
          - name: weights
            kind: mix
            params: {mixer: cvxpy, scores: proxy, proxy_trainer: lorra}
          - name: again
            kind: mix
            params: {mixer: cvxpy, scores: proxy, proxy_params: {max_step: 3}}
        """)
    with pytest.raises(CookbookError) as err:
        load_pipeline(write(tmp_path / "graph", graph))
    message = str(err.value)
    assert "steps[0].params.proxy_trainer: unknown trainer 'lorra'; did you mean 'lora'?" in message
    assert "steps[1].params.proxy_params.max_step: unknown parameter 'max_step'" in message
