"""Graph pipelines: a third-party package adds a task, a step kind and a trainer, and one
pipeline uses all three with two train steps and an evaluation of both models."""

from __future__ import annotations

import json
import textwrap

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from eval_helpers import one_thread, tiny_vocabulary  # noqa: E402
from tiny_llama import build_tiny_llama  # noqa: E402

from cookbook.contract.errors import CookbookError  # noqa: E402
from cookbook.pipeline import runner  # noqa: E402
from cookbook.pipeline.config import load_pipeline  # noqa: E402

#: A third-party plugin, written against the public API only: a task that reports only BLEU,
#: a step kind that drops near-duplicate samples, and a trainer with its own parameters.
EXTRAS = '''
import json
import math
from collections import Counter
from typing import Annotated

from cookbook import (
    Dataset, Input, Param, Params, StepProblem, TaskRecord, get_registry, hookimpl, read_jsonl,
    step_kind,
)
from cookbook.engine import read_samples, train_model


def bleu(output, reference):
    """Sentence BLEU over unigrams and bigrams, with the brevity penalty."""
    out, ref = output.split(), reference.split()
    if not out:
        return 0.0
    logs = []
    for n in (1, 2):
        grams = Counter(tuple(out[i:i + n]) for i in range(len(out) - n + 1))
        refs = Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1))
        hits = sum((grams & refs).values())
        logs.append(math.log((hits + 1) / (sum(grams.values()) + 1)))
    penalty = min(1.0, math.exp(1 - len(ref) / len(out)))
    return penalty * math.exp(sum(logs) / 2)


class BleuQA:
    name = "bleu_qa"
    template = "document_qa"
    mode = "generate"
    main_metric = "bleu"
    stop = "\\n"
    max_new_tokens = 4

    def read(self, path, split=None, *, prefix: Annotated[str, Param("Prompt prefix.")] = ""):
        template = get_registry().get("templates", "document_qa")
        for number, row in read_jsonl(__import__("pathlib").Path(path)):
            slots = {"document": row["document"], "question": row["question"]}
            prompt = template.render({**slots, "answer": row["answer"]}, {})[0]
            yield TaskRecord(f"q{number}", slots, [row["answer"]], prompt=prefix + prompt)

    params = Params.of(read)

    def metric(self, records, outputs):
        scores = [bleu(o, r.answers[0]) for r, o in zip(records, outputs)]
        return {"bleu": 100 * sum(scores) / len(scores)}


def _ngrams(text, n):
    words = text.split()
    return {tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}


def _check(params, pipeline, inputs):
    if params["ngram"] > 8:
        return [StepProblem(("ngram",), "ngram above 8 finds no duplicates")]
    return []


@step_kind(inputs={"data": Input("dataset")}, outputs={"data": "dataset"}, check=_check)
def dedupe(
    ctx, *,
    ngram: Annotated[int, Param("Words per n-gram.", minimum=1)] = 3,
    threshold: Annotated[float, Param("Jaccard at which a sample is a duplicate.",
                                      minimum=0, maximum=1)] = 0.8,
):
    """Drop samples whose n-grams overlap an earlier kept sample's by ``threshold``."""
    kept, grams, counts = [], [], Counter()
    for record in read_samples(ctx.inputs["data"].file):
        mine = _ngrams(record["prompt"] + record["completion"], ngram)
        if any(len(mine & g) / len(mine | g) >= threshold for g in grams):
            continue
        kept.append(record)
        grams.append(mine)
        counts[record["template"]] += 1
    path = ctx.folder / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\\n" for r in kept))
    ctx.log(f"kept {len(kept)} samples")
    return {"data": Dataset(file=path, samples=len(kept), counts=dict(counts))}


class QuickTrainer:
    """LoRA for a few steps, named by its own parameters."""

    name = "quick"

    def train(self, data, model, output_dir, *,
              steps: Annotated[int, Param("Optimizer steps.", minimum=1)] = 1,
              rank: Annotated[int, Param("LoRA rank.", minimum=1)] = 2):
        params = {"max_steps": steps, "lora_r": rank, "batch_size": 4, "progress": False}
        return train_model("lora", data, model, output_dir, params)

    params = Params.of(train)


@hookimpl
def register_tasks(register):
    register(BleuQA())


@hookimpl
def register_steps(register):
    register(dedupe)


@hookimpl
def register_trainers(register):
    register(QuickTrainer())
'''

QA = [
    {"document": "w1 w2 w3 w4 w5 w6", "question": "w2 w3", "answer": "w4 w5"},
    {"document": "w7 w8 w9 w10 w11 w1", "question": "w8", "answer": "w9 w10"},
    {"document": "w3 w5 w7 w9 w11 w2", "question": "w5 w7", "answer": "w9 w11"},
]


@pytest.fixture(autouse=True)
def single_thread(monkeypatch):
    yield from one_thread(monkeypatch)


@pytest.fixture
def extras(install_fake):
    return install_fake("cookbook-extras", "extras", EXTRAS)


def graph(tmp_path, model) -> str:
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in QA))
    return textwrap.dedent(f"""\
        name: graph
        output_dir: out
        model: {model}
        token_space: pseudowords
        templates:
          - name: document_qa
            params: {{min_words: 8, max_words: 12, k: 2}}
          - retrieval
        tasks:
          - {{name: qa, type: bleu_qa, path: qa.jsonl}}
        steps:
          - name: data
            kind: generate
            params: {{samples: 24}}
          - name: clean
            kind: dedupe
            inputs: {{data: data}}
            params: {{ngram: 2, threshold: 0.9}}
          - name: lora_model
            kind: train
            inputs: {{data: clean}}
            params: {{trainer: lora, max_steps: 2, batch_size: 4, progress: false}}
          - name: quick_model
            kind: train
            inputs: {{data: clean}}
            params: {{trainer: quick, steps: 1, rank: 2}}
          - name: results
            kind: eval
            inputs: {{models: [lora_model, quick_model]}}
            params: {{tasks: [qa], template_samples: 0, batch_size: 4}}
        """)


def test_a_third_party_task_step_and_trainer_run_in_one_graph(extras, tmp_path):
    model = build_tiny_llama(tmp_path / "tiny", tiny_vocabulary())
    path = tmp_path / "pipeline.yaml"
    path.write_text(graph(tmp_path, model))
    pipeline = load_pipeline(path)
    assert [s.name for s in pipeline.steps] == [
        "data",
        "clean",
        "lora_model",
        "quick_model",
        "results",
    ]
    manifest = runner.run(pipeline)
    steps = {s["name"]: s for s in manifest["steps"]}
    assert steps["clean"]["kind"] == "dedupe"
    kept = steps["clean"]["outputs"]["data"]["samples"]
    assert 0 < kept <= 24
    assert sum(steps["clean"]["outputs"]["data"]["counts"].values()) == kept
    assert (tmp_path / "out" / "samples.jsonl").read_bytes().count(b"\n") == kept
    for name in ("lora_model", "quick_model"):
        model_out = steps[name]["outputs"]["model"]
        assert model_out["trainer"] == name.split("_")[0]
        assert model_out["metrics"]["step"] == (2 if name == "lora_model" else 1)
    rows = steps["results"]["outputs"]["results"]["rows"]
    assert sorted(r["model"] for r in rows) == ["base", "lora_model", "quick_model"]
    assert {r["metric"] for r in rows} == {"bleu"}
    assert all(0.0 <= r["value"] <= 100.0 for r in rows)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "## Training: lora_model" in card and "## Training: quick_model" in card
    assert "| qa (task) | bleu |" in card

    assert all(step.cached for step in runner.plan(load_pipeline(path)))
    changed = load_pipeline(path, [("steps.3.params.steps", 2)])
    cached = {step.name: step.cached for step in runner.plan(changed)}
    assert cached == {
        "data": True,
        "clean": True,
        "lora_model": True,
        "quick_model": False,
        "results": False,
    }


BAD_GRAPH = """\
name: bad
model: smollm2-135m-instruct
templates: [document_qa]
steps:
  - name: data
    kind: generate
    params: {samples: 10, format: jsonl, wrokers: 2}
  - name: tuned
    kind: train
    inputs: {data: mixed}
    params: {trainer: lora, max_step: 80, batch_size: 4}
  - name: again
    kind: train
    inputs: {data: tuned}
  - name: loop_a
    kind: dedupe
    inputs: {data: loop_b}
  - name: loop_b
    kind: dedupe
    inputs: {data: loop_a}
    params: {ngram: 9}
  - name: results
    kind: evaluate
"""


def test_graph_errors_are_reported_at_once_with_their_lines(extras, tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text(BAD_GRAPH)
    with pytest.raises(CookbookError) as err:
        load_pipeline(path)
    message = str(err.value)
    expected = [
        ":7: steps[0].params.wrokers: unknown parameter 'wrokers'; did you mean 'workers'?",
        ":10: steps[1].inputs.data: no step named 'mixed'",
        ":11: steps[1].params.max_step: unknown parameter 'max_step'; did you mean 'max_steps'?",
        ":14: steps[2].inputs.data: step 'tuned' makes no dataset (it makes: model 'model')",
        ":17: steps[3].inputs: the inputs of steps 'loop_a', 'loop_b' form a cycle",
        ":21: steps[4].params.ngram: ngram above 8 finds no duplicates",
        ":23: steps[5].kind: unknown step kind 'evaluate'; did you mean 'eval'?",
    ]
    for line in expected:
        assert line in message, f"{line!r} not in:\n{message}"
    assert "batch_size" not in message  # valid keys are left alone
    assert message.startswith(f"{len(message.splitlines()) - 1} errors in pipeline.yaml")


FAILING = '''
from cookbook import hookimpl, step_kind


def _check(params, pipeline, inputs):
    if params["when"] == "check":
        raise KeyError("no such thing")
    return []


@step_kind(outputs={"data": "dataset"}, check=_check)
def boom(ctx, *, when: str = "run"):
    """Fails when asked to."""
    raise ZeroDivisionError("division by zero")


@hookimpl
def register_steps(register):
    register(boom)
'''


def test_a_step_kind_that_raises_is_reported_with_its_step_and_plugin(install_fake, tmp_path):
    install_fake("cookbook-boom", "boom", FAILING)
    path = tmp_path / "pipeline.yaml"
    path.write_text("name: b\noutput_dir: out\nsteps:\n  - {name: first, kind: boom}\n")
    with pytest.raises(CookbookError) as err:
        runner.run(load_pipeline(path))
    message = str(err.value)
    assert "step 'first' (kind 'boom', plugin boom 1.2.3) failed: ZeroDivisionError" in message
    steps = tmp_path / "out" / "steps"
    # the step wrote nothing: its empty working folder is removed, and the message says so
    assert "nothing was left behind" in message
    assert list(steps.iterdir()) == []
    assert not (tmp_path / "out" / "manifest.json").exists()
    path.write_text(path.read_text().replace("kind: boom}", "kind: boom, params: {when: check}}"))
    with pytest.raises(
        CookbookError, match=r"the check of step kind 'boom' \(plugin boom\) failed"
    ):
        load_pipeline(path)
