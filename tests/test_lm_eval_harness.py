"""lm-evaluation-harness from Cookbook: a Cookbook task exported as harness YAML over local
files scores the same as Cookbook's evaluator on the same records (a tiny random Llama, no
network), and the ``lm_eval`` step puts harness rows into a run's card."""

from __future__ import annotations

import json
import random
import textwrap

import pytest

pytest.importorskip("torch")
pytest.importorskip("lm_eval")

from eval_helpers import one_thread, tiny_vocabulary  # noqa: E402
from tiny_llama import build_tiny_llama  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import cookbook.engine as engine  # noqa: E402
from cookbook import CookbookError  # noqa: E402
from cookbook.cli import _plugin_commands, app  # noqa: E402
from cookbook_plugins.lm_eval_harness.harness import run_harness  # noqa: E402
from cookbook_plugins.lm_eval_harness.task_export import export_task  # noqa: E402

WORDS = ["winter", "summer", "spring", "autumn", "river", "stone", "tree", "bird", "cold", "warm"]


@pytest.fixture(autouse=True)
def single_thread(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    yield from one_thread(monkeypatch)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(build_tiny_llama(tmp_path_factory.mktemp("tiny"), tiny_vocabulary() + WORDS))


def arc_rows(path, n=16):
    rng = random.Random(4)
    with path.open("w") as f:
        for i in range(n):
            options = rng.sample(WORDS, 4)
            question = (
                f"Which {rng.choice(WORDS)} is {rng.choice(WORDS)} in the {rng.choice(WORDS)}?"
            )
            row = {"id": f"q{i}", "question": question,
                   "choices": {"text": options, "label": ["A", "B", "C", "D"]},
                   "answerKey": "ABCD"[rng.randrange(4)]}  # fmt: skip
            f.write(json.dumps(row) + "\n")
    return path


def test_the_harness_and_cookbook_agree_on_a_multiple_choice_task(tiny, tmp_path):
    data = str(arc_rows(tmp_path / "arc_easy.jsonl"))
    yaml_path = export_task("arc_easy", data, tmp_path / "tasks")
    assert yaml_path.name == "cookbook_arc_easy.yaml"
    ours = engine.evaluate_task("arc_easy", data, tiny, progress=False)
    theirs = run_harness(["cookbook_arc_easy"], tiny, include_path=str(tmp_path / "tasks"))
    assert ours["n"] == 16
    assert 100 * theirs["cookbook_arc_easy"]["acc"] == pytest.approx(ours["accuracy"], abs=1e-6)
    assert 100 * theirs["cookbook_arc_easy"]["acc_norm"] == pytest.approx(
        ours["accuracy_norm"], abs=1e-6
    )


def test_a_generation_task_exports_with_cookbooks_own_metric(tiny, tmp_path):
    from eval_helpers import SQUAD

    path = export_task("squad", str(SQUAD), tmp_path / "tasks", name="My QA")
    config = path.read_text()
    assert "task: cookbook_my_qa" in config and "output_type: generate_until" in config
    assert "process_results: !function cookbook_my_qa_utils.process_results" in config
    assert "metric: f1" in config and "metric: em" in config
    result = run_harness(["cookbook_my_qa"], tiny, include_path=str(tmp_path / "tasks"))
    assert set(result["cookbook_my_qa"]) >= {"em", "f1"}


def test_unknown_tasks_and_partial_evaluation_are_clear_errors(tiny, tmp_path):
    with pytest.raises(CookbookError, match="lm-eval has no task 'cookbook_nothing'"):
        run_harness(["cookbook_nothing"], tiny, include_path=str(tmp_path))
    from eval_helpers import FIXTURES

    winogrande = str(FIXTURES / "multiple_choice" / "hf" / "winogrande.jsonl")
    with pytest.raises(CookbookError, match="partial evaluation"):
        export_task("winogrande", winogrande, tmp_path / "w")


def test_export_task_command_writes_what_lm_eval_runs(tmp_path):
    _plugin_commands()
    data = str(arc_rows(tmp_path / "arc.jsonl", n=3))
    result = CliRunner().invoke(app, ["export-task", "arc_easy", "--data", data, "-o",
                                      str(tmp_path / "out"), "--limit", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "lm_eval --include_path" in result.output
    rows = (tmp_path / "out" / "cookbook_arc_easy.jsonl").read_text().splitlines()
    assert len(rows) == 2 and json.loads(rows[0])["gold"] in range(4)


def test_the_lm_eval_step_scores_base_and_tuned_beside_cookbook(tiny, tmp_path):
    from cookbook.pipeline import runner
    from cookbook.pipeline.config import load_pipeline

    arc_rows(tmp_path / "arc.jsonl", n=6)
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: harness
        output_dir: out
        model: {tiny}
        token_space: pseudowords
        templates: [multiple_choice]
        tasks:
          - {{name: arc, type: arc_easy, path: arc.jsonl}}
        steps:
          - {{name: data, kind: generate, params: {{samples: 8}}}}
          - name: tuned
            kind: train
            inputs: {{data: data}}
            params: {{trainer: lora, max_steps: 1, batch_size: 4, progress: false}}
          - {{name: ours, kind: eval, inputs: {{models: [tuned]}},
              params: {{tasks: [arc], template_samples: 0}}}}
          - {{name: harness, kind: lm_eval, inputs: {{models: [tuned]}}, params: {{export: [arc]}}}}
        """)
    )
    manifest = runner.run(load_pipeline(path))
    steps = {s["name"]: s["outputs"] for s in manifest["steps"]}
    ours = {r["model"]: r["value"] for r in steps["ours"]["results"]["rows"]}
    harness = {(r["model"], r["metric"]): r["value"] for r in steps["harness"]["results"]["rows"]}
    assert harness[("base", "acc")] == pytest.approx(ours["base"])
    assert harness[("tuned", "acc")] == pytest.approx(ours["tuned"])
    card = (tmp_path / "out" / "README.md").read_text()
    assert "## lm-evaluation-harness: harness" in card
    header = next(line for line in card.splitlines() if line.startswith("| lm-eval task"))
    assert header.endswith("| base | tuned | tuned - base |")
    acc = next(line for line in card.splitlines() if line.startswith("| cookbook_arc | acc |"))
    difference = harness[("tuned", "acc")] - harness[("base", "acc")]
    assert acc.endswith(f"| {difference:+.2f} |")


def test_the_sectioned_eval_takes_a_harness_beside_it(tiny, tmp_path):
    from cookbook.pipeline.config import load_pipeline

    arc_rows(tmp_path / "arc.jsonl", n=3)
    text = textwrap.dedent(f"""\
        name: sectioned
        model: {tiny}
        token_space: pseudowords
        templates: [multiple_choice]
        tasks:
          - {{name: arc, type: arc_easy, path: arc.jsonl}}
        generate: {{samples: 8}}
        train: {{trainer: lora, max_steps: 1}}
        eval:
          tasks: [arc]
          harness: {{kind: lm_eval, params: {{export: [arc], limit: 2}}}}
        """)
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    steps = {s.name: s for s in load_pipeline(path).steps}
    assert steps["harness"].kind == "lm_eval" and steps["harness"].params["limit"] == 2
    assert steps["harness"].inputs == {"models": [("train", "model")]}
    # labelled as eval labels its models: the train step's model is "tuned" in both
    assert steps["harness"].params["labels"] == steps["eval"].params["labels"] == {"train": "tuned"}
    path.write_text(text.replace("tasks: [arc]", "tasks: [arc]\n  labels: {train: mine}"))
    steps = {s.name: s for s in load_pipeline(path).steps}
    assert steps["harness"].params["labels"] == {"train": "mine"}
    path.write_text(text.replace("kind: lm_eval", "kind: lm_evl").replace("limit: 2", "limit: 0"))
    with pytest.raises(CookbookError, match=r"eval\.harness\.kind: .*lm_eval"):
        load_pipeline(path)
    path.write_text(text.replace("limit: 2", "limit: 0"))
    with pytest.raises(CookbookError, match=r"eval\.harness\.params\.limit"):
        load_pipeline(path)
