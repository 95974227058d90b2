"""``cookbook eval --harness KIND --task NAME``: a registered harness step kind (lm_eval, or a
third party's) run on a model and adapter from the command line, on a local task exported by
``export-task`` (a tiny random Llama, no network)."""

from __future__ import annotations

import io
import json
import random
import sys
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock

import pytest

pytest.importorskip("torch")
pytest.importorskip("lm_eval")

from cli_helpers import assert_clean, cli  # noqa: E402
from eval_helpers import one_thread, tiny_vocabulary  # noqa: E402
from tiny_llama import build_tiny_llama  # noqa: E402

import cookbook.engine as engine  # noqa: E402
from cookbook import CookbookError, Input, step_kind  # noqa: E402
from cookbook.cli import main  # noqa: E402
from cookbook_plugins.lm_eval_harness.task_export import export_task  # noqa: E402

WORDS = ["winter", "summer", "spring", "autumn", "river", "stone", "tree", "bird", "cold", "warm"]

#: A third party's harness: it "scores" each task by the length of its name.
NAME_LENGTH_HARNESS = """
from typing import Annotated
from cookbook import Input, Param, Results, hookimpl, step_kind

@step_kind(inputs={"models": Input("model", many=True, optional=True)},
           outputs={"results": "results"}, harness=True)
def name_length(ctx, *, tasks: list[str] = [], scale: float = 1.0):
    labels = [("base", None)] + list(zip(ctx.sources.get("models", []),
                                         ctx.inputs.get("models") or []))
    rows = [{"model": label, "kind": "harness", "name": t, "metric": "length",
             "value": scale * len(t) + (0.5 if model is not None else 0.0), "alignment": None}
            for label, model in labels for t in tasks]
    return {"results": Results(rows=rows)}

@hookimpl
def register_steps(register):
    register(name_length)
"""


@pytest.fixture(autouse=True)
def single_thread(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    yield from one_thread(monkeypatch)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(build_tiny_llama(tmp_path_factory.mktemp("tiny"), tiny_vocabulary() + WORDS))


@pytest.fixture(scope="module")
def arc(tmp_path_factory):
    """ARC-style rows and the harness task ``cookbook_arc_easy`` exported over them."""
    folder = tmp_path_factory.mktemp("arc")
    rng = random.Random(7)
    with (folder / "arc.jsonl").open("w") as f:
        for i in range(12):
            row = {"id": f"q{i}", "question": f"Which {rng.choice(WORDS)} is {rng.choice(WORDS)}?",
                   "choices": {"text": rng.sample(WORDS, 4), "label": ["A", "B", "C", "D"]},
                   "answerKey": "ABCD"[rng.randrange(4)]}  # fmt: skip
            f.write(json.dumps(row) + "\n")
    export_task("arc_easy", str(folder / "arc.jsonl"), folder / "tasks")
    return folder


@pytest.fixture(scope="module")
def adapter(tiny, tmp_path_factory):
    """A LoRA adapter on the tiny model whose weights are random (it changes the outputs)."""
    from peft import LoraConfig, get_peft_model

    folder = tmp_path_factory.mktemp("adapter")
    model = engine.load_model(tiny, device="cpu")
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(str(folder))
    return str(folder)


def harness(*args: str) -> tuple[int, str]:
    return cli("eval", "--harness", *args)


def harness_json(*args: str) -> list[dict]:
    """The rows ``--json`` prints on stdout (the harness's log lines go to stderr)."""
    out, err = io.StringIO(), io.StringIO()
    argv = ["cookbook", "eval", "--harness", *args, "--json"]
    with mock.patch.object(sys, "argv", argv), redirect_stdout(out), redirect_stderr(err):
        try:
            main()
        except SystemExit as exc:
            pytest.fail(f"exit {exc.code}: {out.getvalue()}{err.getvalue()}")
    return json.loads(out.getvalue())


def test_lm_eval_through_cookbook_eval_matches_our_evaluator(tiny, arc, adapter):
    tasks = f"include_path={arc / 'tasks'}"
    rows = {
        r["metric"]: r
        for r in harness_json(
            "lm_eval", "--task", "cookbook_arc_easy", "-p", tasks, "--model", tiny
        )
    }
    ours = engine.evaluate_task("arc_easy", str(arc / "arc.jsonl"), tiny, progress=False)
    assert rows["acc"]["model"] == "base"
    assert rows["acc"]["value"] == pytest.approx(ours["accuracy"], abs=1e-6)
    assert rows["acc_norm"]["value"] == pytest.approx(ours["accuracy_norm"], abs=1e-6)

    code, out = harness("lm_eval", "--task", "cookbook_arc_easy", "-p", tasks, "--model", tiny,
                        "--adapter", adapter, "--limit", "6")  # fmt: skip
    assert code == 0, out
    tuned = engine.evaluate_task("arc_easy", str(arc / "arc.jsonl"), tiny, adapter, limit=6,
                                 progress=False)  # fmt: skip
    assert "cookbook_arc_easy (lm_eval)" in out and f"+ {adapter}"[:30] in out.replace("\n", "")
    acc_line = next(line for line in out.splitlines() if "│ acc " in line)
    assert f"{tuned['accuracy']:.4f}" in acc_line


def test_a_third_party_harness_runs_the_same_way(install_fake, tiny, adapter):
    install_fake("cookbook-name-length", "name_length", NAME_LENGTH_HARNESS)
    rows = harness_json("name_length", "--task", "abc,defgh", "-p", "scale=2", "--model", tiny,
                        "--adapter", adapter)  # fmt: skip
    values = {(r["model"], r["name"]): r["value"] for r in rows}
    assert values == {("base", "abc"): 6.0, ("base", "defgh"): 10.0,
                      ("tuned", "abc"): 6.5, ("tuned", "defgh"): 10.5}  # fmt: skip
    code, out = harness("name_length", "--task", "abc", "--model", tiny, "--adapter", adapter)
    assert code == 0, out
    assert "tuned - base" in out and "+0.5000" in out


def test_an_unknown_harness_names_the_installed_ones(tiny):
    code, out = harness("lm_evl", "--task", "x", "--model", tiny)
    assert code != 0
    assert_clean(out)
    assert "no evaluation harness of that name; installed harnesses: lm_eval" in out
    code, out = harness("eval", "--task", "x", "--model", tiny)  # a step kind, not a harness
    assert code != 0 and "installed harnesses: lm_eval" in out


def test_missing_lm_eval_names_the_extra(tiny, arc, monkeypatch):
    monkeypatch.setitem(sys.modules, "lm_eval", None)  # import lm_eval now fails
    code, out = harness("lm_eval", "--task", "cookbook_arc_easy", "-p",
                        f"include_path={arc / 'tasks'}", "--model", tiny)  # fmt: skip
    assert code != 0
    assert_clean(out)
    assert "pip install 'cookbook-llm[eval]'" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "TINY"], "name its task with --task NAME"),
        (["--task", "t", "--data", "x.json", "--model", "TINY"], "--data does not apply"),
        (["--task", "t", "-p", "nope=1", "--model", "TINY"], "no parameter 'nope'"),
        (["--task", "t", "-p", "include_path=/no/such/dir", "--model", "TINY"], "not found"),
        (
            ["--task", "cookbook_none", "-p", "include_path=.", "--model", "TINY"],
            "lm-eval has no task 'cookbook_none'",
        ),
    ],
)
def test_bad_harness_options_are_one_clear_error(tiny, args, message):
    code, out = harness("lm_eval", *[tiny if a == "TINY" else a for a in args])
    assert code != 0
    assert_clean(out)
    assert message in out


def test_a_harness_step_kind_must_take_models_and_make_results():
    def run(ctx, *, tasks: list[str] = []):  # noqa: B006
        return {}

    with pytest.raises(CookbookError, match="a harness takes models"):
        step_kind(outputs={"results": "results"}, harness=True)(run)
    with pytest.raises(CookbookError, match="a harness takes models"):
        step_kind(inputs={"models": Input("model", many=True, optional=True)}, harness=True)(run)


def test_a_sectioned_pipeline_labels_a_harness_only_if_it_takes_labels(
    install_fake, tiny, tmp_path
):
    from cookbook.pipeline.config import load_pipeline

    install_fake("cookbook-name-length", "name_length", NAME_LENGTH_HARNESS)
    path = tmp_path / "pipeline.yaml"
    text = (
        f"name: sectioned\nmodel: {tiny}\ntoken_space: pseudowords\ntemplates: [multiple_choice]\n"
        "generate: {samples: 8}\ntrain: {trainer: lora, max_steps: 1}\n"
        "eval: {template_samples: 2, harness: {kind: KIND, params: {tasks: [abc]}}}\n"
    )
    path.write_text(text.replace("KIND", "name_length"))  # declares no labels: none given
    steps = {s.name: s for s in load_pipeline(path).steps}
    assert steps["harness"].params == {"tasks": ["abc"], "scale": 1.0}
    path.write_text(text.replace("KIND", "lm_eval"))
    steps = {s.name: s for s in load_pipeline(path).steps}
    assert steps["harness"].params["labels"] == {"train": "tuned"}
