"""A whole pipeline on a tiny random Llama: proxy scores, mixing, training and evaluation."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("cvxpy")

from eval_helpers import FIXTURES, SQUAD, one_thread, tiny_vocabulary  # noqa: E402
from tiny_llama import build_tiny_llama  # noqa: E402

from cookbook.pipeline import runner  # noqa: E402
from cookbook.pipeline.config import load_pipeline  # noqa: E402


@pytest.fixture(autouse=True)
def single_thread(monkeypatch):
    yield from one_thread(monkeypatch)


def test_proxy_mix_train_and_eval_run_and_rerun_cached(tmp_path):
    model = build_tiny_llama(tmp_path / "tiny", tiny_vocabulary())
    shutil.copy(SQUAD, tmp_path / "squad.json")
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: tiny
        output_dir: out
        model: {model}
        token_space: pseudowords
        templates:
          - name: document_qa
            params: {{min_words: 8, max_words: 12}}
          - retrieval
        tasks:
          - {{name: qa, type: squad, path: squad.json, dev_limit: 3}}
        generate:
          samples: 16
        mix:
          mixer: cvxpy
          scores: proxy
          objective: mean
        train:
          trainer: lora
          max_steps: 2
          batch_size: 4
          progress: false
        eval:
          tasks: [qa]
          limit: 3
          template_samples: 2
          batch_size: 4
        """)
    )
    manifest = runner.run(load_pipeline(path))
    steps = {s["name"]: s["outputs"] for s in manifest["steps"]}
    assert list(steps) == ["score", "mix", "generate", "train", "eval"]
    weights = steps["mix"]["mixture"]["weights"]
    assert set(weights) == {"document_qa", "retrieval"}
    assert sum(weights.values()) == pytest.approx(1.0)
    assert sum(steps["generate"]["data"]["counts"].values()) == 16
    assert steps["train"]["model"]["metrics"]["step"] == 2
    rows = steps["eval"]["results"]["rows"]
    assert {(r["model"], r["kind"], r["name"]) for r in rows} == {
        (m, k, n)
        for m in ("base", "tuned")
        for k, n in (("task", "qa"), ("template", "document_qa"), ("template", "retrieval"))
    }
    task_rows = [r for r in rows if r["kind"] == "task"]
    assert all(r["metric"] == "f1" and r["result"]["n"] == 3 for r in task_rows)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "## Results" in card and "qa (task)" in card and "Mixture (cvxpy" in card
    adapter = tmp_path / "out" / "steps"
    assert list(adapter.glob("train-*/model/adapter_model.safetensors"))
    assert list(adapter.glob("mix-*/proxy-cache/*.json"))

    before = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert all(step.cached for step in runner.plan(load_pipeline(path)))
    runner.run(load_pipeline(path))
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == before

    from typer.testing import CliRunner

    from cookbook.cli import app

    printed = CliRunner().invoke(app, ["run", str(path)], env={"COLUMNS": "200"})
    assert printed.exit_code == 0, printed.output
    qa = {r["model"]: r["value"] for r in task_rows}
    line = next(x for x in printed.stdout.splitlines() if "qa (task)" in x)
    assert "results of step eval" in printed.stdout and "tuned - base" in printed.stdout
    assert line.split("│")[-2].strip() == f"{qa['tuned'] - qa['base']:+.2f}"


def test_eval_can_skip_the_base_model_limit_each_task_and_calibrate_one(tmp_path):
    model = build_tiny_llama(tmp_path / "tiny", tiny_vocabulary())
    shutil.copy(SQUAD, tmp_path / "squad.json")
    shutil.copytree(FIXTURES / "deepmatcher", tmp_path / "em")
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: tuned-only
        output_dir: out
        model: {model}
        token_space: pseudowords
        templates:
          - name: document_qa
            params: {{min_words: 8, max_words: 12}}
        tasks:
          - {{name: qa, type: squad, path: squad.json, eval_limit: 2}}
          - {{name: em, type: deepmatcher, path: em, calibrate: true, dev_split: train}}
        generate:
          samples: 8
        train:
          trainer: lora
          max_steps: 1
          batch_size: 4
          progress: false
        eval:
          tasks: [qa, em]
          limit: 3
          template_samples: 0
          base: false
        """)
    )
    manifest = runner.run(load_pipeline(path))
    rows = {s["name"]: s["outputs"] for s in manifest["steps"]}["eval"]["results"]["rows"]
    assert [(r["model"], r["name"], r["result"]["n"]) for r in rows] == [
        ("tuned", "qa", 2),
        ("tuned", "em", 3),
    ]
    assert "threshold" in rows[1]["result"] and "threshold" not in rows[0]["result"]
    assert rows[1]["metric"] == "f1"
    card = (tmp_path / "out" / "README.md").read_text()
    assert "| em (task) | f1, decision margin fitted on dev records |" in card


def test_a_spec_named_by_its_path_keeps_its_generations_in_the_eval_folder(tmp_path):
    model = build_tiny_llama(tmp_path / "tiny", tiny_vocabulary())
    shutil.copy(SQUAD, tmp_path / "squad.json")
    (tmp_path / "specs").mkdir()
    spec = FIXTURES.parent.parent / "examples" / "specs" / "document_qa.yaml"
    shutil.copy(spec, tmp_path / "specs" / "qa.yaml")
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: tiny
        output_dir: out
        model: {model}
        token_space: pseudowords
        templates:
          - name: specs/qa.yaml
            params: {{min_words: 8, max_words: 12}}
        tasks:
          - {{name: qa, type: squad, path: squad.json}}
        generate:
          samples: 8
        train:
          trainer: lora
          max_steps: 1
          batch_size: 4
          progress: false
        eval:
          tasks: [qa]
          limit: 2
          template_samples: 2
          batch_size: 4
        """)
    )
    runner.run(load_pipeline(path))
    [folder] = (tmp_path / "out" / "steps").glob("eval-*")
    assert not [p for p in folder.iterdir() if p.is_dir()]  # no folders named after the path
    made = sorted(p.name for p in folder.glob("*.jsonl"))
    assert [n for n in made if n.startswith("tuned-qa-")] and [n for n in made if "base-qa-" in n]
    assert {"base-qa.jsonl", "tuned-qa.jsonl"} <= set(made)  # the task's generations
    for name in made:
        assert len(name.split("-")) <= 3
