"""Natural-language data as a mixture source (the ``instruction_data`` template), the ``judge``
step (mean score and win rate by a local judge model), and a backtranslation step killed
mid-way and resumed."""

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

pytest.importorskip("torch")
pytest.importorskip("transformers")

from eval_helpers import one_thread  # noqa: E402
from test_backtranslation_pipeline import _jsonl, _words  # noqa: E402
from tiny_llama import build_tiny_llama  # noqa: E402

from cookbook import CookbookError  # noqa: E402
from cookbook.pipeline import runner  # noqa: E402
from cookbook.pipeline.config import load_pipeline  # noqa: E402
from cookbook_plugins.backtranslation.judging import mean_score, win_rate  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "backtranslation"
SEED_OUTPUTS = {
    "An apple is a red fruit.",
    "The sky is blue on a clear day.",
    "Two and three make five.",
    "One and one make two.",
}


@pytest.fixture(autouse=True)
def single_thread(monkeypatch):
    yield from one_thread(monkeypatch)


def _folder(root: Path, step: str) -> Path:
    (folder,) = (root / "out" / "steps").glob(f"{step}-*[!l]")  # not a .partial folder
    return folder


# --- a natural-language source in a mixture ---------------------------------------------------


def _source_pipeline(tmp_path: Path, mix: str, samples: int = 12) -> Path:
    shutil.copy(FIXTURES / "seed.jsonl", tmp_path / "seed.jsonl")
    (tmp_path / "scores.csv").write_text("task,document_qa,instruction_data\nqa,0.5,0\n")
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: nl-source
        output_dir: out
        seed: 5
        templates:
          - document_qa
          - name: instruction_data
            params: {{path: seed.jsonl, holdout: 1}}
        steps:
          - {{name: mix, kind: mix, params: {mix}}}
          - {{name: data, kind: generate, inputs: {{mixture: mix}}, params: {{samples: {samples}}}}}
        """)
    )
    return path


def test_a_natural_language_source_is_sampled_to_its_given_weight_like_a_template(tmp_path):
    mix = (
        "{mixer: fixed, scores: file, file: scores.csv, weights: {document_qa: 0.75, "
        "instruction_data: 0.25}}"
    )
    manifest = runner.run(load_pipeline(_source_pipeline(tmp_path, mix, samples=12)))
    data = {s["name"]: s["outputs"] for s in manifest["steps"]}["data"]["data"]
    assert data["counts"] == {"document_qa": 9, "instruction_data": 3}
    rows = _jsonl(_folder(tmp_path, "data") / "samples.jsonl")
    natural = [r for r in rows if r["template"] == "instruction_data"]
    assert len(natural) == 3
    for row in natural:
        assert row["prompt"].startswith("Answer in the style of an AI Assistant.\n")
        assert row["completion"][1:] in SEED_OUTPUTS  # never the held-out greeting
        assert row["slots"]["answer"] == row["completion"][1:]
    again = tmp_path / "again"
    again.mkdir()
    runner.run(load_pipeline(_source_pipeline(again, mix, samples=12)))
    first = (_folder(tmp_path, "data") / "samples.jsonl").read_bytes()
    assert (_folder(again, "data") / "samples.jsonl").read_bytes() == first


def test_draws_cover_the_source_and_follow_the_samples_own_randomness(tmp_path):
    mix = "{mixer: fixed, scores: file, file: scores.csv, weights: {instruction_data: 1}}"
    runner.run(load_pipeline(_source_pipeline(tmp_path, mix, samples=60)))
    rows = _jsonl(_folder(tmp_path, "data") / "samples.jsonl")
    drawn = [r["slots"]["pair"] for r in rows]
    assert set(drawn) == {"seed:1", "seed:2", "seed:3:1", "seed:3:2"}  # 60 draws of 4
    assert all(20 > drawn.count(p) > 5 for p in set(drawn))
    other = tmp_path / "other"
    other.mkdir()
    path = _source_pipeline(other, mix, samples=60)
    path.write_text(path.read_text().replace("seed: 5", "seed: 6"))
    runner.run(load_pipeline(path))
    assert [r["slots"]["pair"] for r in _jsonl(_folder(other, "data") / "samples.jsonl")] != drawn


def test_no_task_aligns_with_natural_language_so_a_bound_gives_its_weight():
    from cookbook import TaskRecord, get_registry
    from cookbook.engine import alignment_matrix

    registry = get_registry()
    templates = {n: registry.get("templates", n) for n in ("document_qa", "instruction_data")}
    record = TaskRecord(
        id="q1",
        slots={"context": "the cat sat on the mat", "question": "where did the cat sit"},
        answers=["on the mat"],
    )
    params = {"instruction_data": {"path": str(FIXTURES / "seed.jsonl")}}
    matrix = alignment_matrix({"qa": [record]}, templates, params)
    assert matrix.as_mapping()["qa"]["instruction_data"] == 0.0
    mixer = registry.get("mixers", "cvxpy")
    weights = mixer.mix(
        matrix, min_weight={"instruction_data": 0.1}, max_weight={"instruction_data": 0.1}
    )
    assert weights["instruction_data"] == pytest.approx(0.1, abs=1e-6)


def test_the_source_reads_samples_and_refuses_a_missing_file(tmp_path):
    from cookbook_plugins.backtranslation.instruction_data import training_pairs

    samples = tmp_path / "curated.jsonl"
    samples.write_text('{"prompt": "Say hi.", "completion": " Hi there."}\n')
    assert training_pairs(str(samples)) == (("Say hi.", "Hi there.", "curated:1"),)
    with pytest.raises(CookbookError, match=r"path .*nothing\.jsonl: No such file"):
        training_pairs(str(tmp_path / "nothing.jsonl"))
    with pytest.raises(CookbookError, match="holdout 3 is more than the 1 tasks there are"):
        training_pairs(str(samples), holdout=3)


# --- the judge ------------------------------------------------------------------------------


def test_win_rate_counts_ties_half_and_leaves_unscored_pairs_out():
    assert win_rate([5, 3, 2, None, 4], [4, 3, 5, 2, None]) == {
        "wins": 1, "ties": 1, "losses": 1, "compared": 3, "win_rate": 50.0
    }  # fmt: skip
    assert win_rate([None], [1])["win_rate"] is None
    assert mean_score([5, None, 2]) == 3.5 and mean_score([None]) is None


def _judge_pipeline(tmp_path: Path, model: Path, judge: str = "") -> Path:
    shutil.copy(FIXTURES / "seed.jsonl", tmp_path / "seed.jsonl")
    train = "{trainer: lora, max_steps: 1, batch_size: 2, progress: false}"
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: judged
        output_dir: out
        model: {model}
        tasks:
          - {{name: every, type: instructions, path: seed.jsonl, params: {{part: all}}}}
        steps:
          - {{name: seed, kind: instructions, params: {{path: seed.jsonl}}}}
          - {{name: m0, kind: train, inputs: {{data: seed}}, params: {train}}}
          - name: results
            kind: eval
            inputs: {{models: [m0]}}
            params: {{tasks: [every], template_samples: 0}}
          - name: judged
            kind: judge
            inputs: {{results: results}}
            params: {{model: {model}, task: every{judge}}}
        """)
    )
    return path


def test_the_judge_reports_mean_scores_and_win_rates_over_the_base_model(tmp_path, monkeypatch):
    """Replies scripted (a random model writes neither answers nor scores): the tuned model
    answers with the reference, the base model "No idea."; the judge gives a reference 5 and
    anything else 2, and no score at all to the tuned model's answer about the sky."""
    import cookbook.engine.inference as inference

    references = {json.loads(line)["instruction"]: json.loads(line)["instances"]
                  for line in (FIXTURES / "seed.jsonl").read_text().splitlines()}  # fmt: skip

    answered = []  # the eval step asks the base model first, then m0 (one batch each)

    def scripted(model, tokenizer, prompts, **kwargs):
        if "5-point scale" not in prompts[0]:
            answered.append(len(prompts))
        tuned = len(answered) > 1
        replies = []
        for prompt in prompts:
            if "5-point scale" in prompt:  # the judge
                answer = prompt.split("Answer:\n", 1)[1]
                if "blue" in answer:
                    replies.append("Blue it is.")
                elif any(o in answer for o in SEED_OUTPUTS | {"Hello, and welcome"}):
                    replies.append("Very good.\nScore: 5")
                else:
                    replies.append("Score: 2")
            elif tuned:
                instruction = next(i for i in references if i in prompt)
                inputs = references[instruction]
                match = next((x for x in inputs if x["input"] and x["input"] in prompt), None)
                replies.append((match or inputs[0])["output"])
            else:
                replies.append("No idea.")
        if kwargs.get("on_progress"):
            kwargs["on_progress"](len(prompts))
        return replies

    model = build_tiny_llama(tmp_path / "tiny", _words())
    monkeypatch.setattr(inference, "generate_greedy", scripted)
    manifest = runner.run(load_pipeline(_judge_pipeline(tmp_path, model)))
    rows = {s["name"]: s["outputs"] for s in manifest["steps"]}["judged"]["results"]["rows"]
    by_model = {r["model"]: r for r in rows}
    assert answered == [5, 5]
    assert by_model["base"]["value"] == 2.0 and by_model["m0"]["value"] == 5.0
    tuned = by_model["m0"]["result"]
    assert (tuned["wins"], tuned["ties"], tuned["losses"], tuned["unscored"]) == (4, 0, 0, 1)
    assert tuned["win_rate"] == 100.0 and tuned["judged"] == 5
    assert by_model["base"]["result"]["win_rate"] == 50.0  # against itself: all ties
    judgements = _jsonl(_folder(tmp_path, "judged") / "judgements.jsonl")
    assert len(judgements) == 10 and sum(j["score"] is None for j in judgements) == 1
    card = (tmp_path / "out" / "README.md").read_text()
    assert "| m0 | 5.00 | 100.0 | 4/0/0 | 1 |" in card


def test_a_judge_of_an_unknown_task_or_missing_model_is_refused_before_anything_runs(tmp_path):
    path = _judge_pipeline(tmp_path, tmp_path / "tiny")
    with pytest.raises(CookbookError) as caught:
        load_pipeline(path)
    assert "steps[3].params.model" in str(caught.value)
    model = build_tiny_llama(tmp_path / "tiny", _words())
    path = _judge_pipeline(tmp_path, model)
    path.write_text(path.read_text().replace("task: every", "task: evrey"))
    with pytest.raises(CookbookError, match=r"steps\[3\]\.params\.task: 'evrey' is not one of"):
        load_pipeline(path)


# --- a step killed mid-way ------------------------------------------------------------------


def _augment_pipeline(tmp_path: Path, model: Path) -> Path:
    shutil.copy(FIXTURES / "seed.jsonl", tmp_path / "seed.jsonl")
    corpus = "\n\n".join(
        f"Passage {i}: the river runs past the library and the town keeps its old bridge {i}."
        for i in range(60)
    )
    (tmp_path / "corpus.txt").write_text(corpus)
    train = "{trainer: lora, max_steps: 1, batch_size: 2, progress: false}"
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: killed
        output_dir: out
        model: {model}
        steps:
          - {{name: back, kind: instructions, params: {{path: seed.jsonl, direction: backward}}}}
          - {{name: myx, kind: train, inputs: {{data: back}}, params: {train}}}
          - name: text
            kind: segments
            params: {{path: corpus.txt, min_chars: 20, max_duplicate_overlap: 1.0,
                      max_sentence_overlap: 1.0}}
          - name: candidates
            kind: self_augment
            inputs: {{model: myx, segments: text}}
            params: {{max_new_tokens: 24, batch_size: 1}}
          - name: curated
            kind: self_curate
            inputs: {{candidates: candidates}}
            params: {{threshold: 1, rating: likelihood, batch_size: 1}}
        """)
    )
    return path


def test_a_self_augmentation_killed_mid_step_resumes_to_the_same_records(tmp_path):
    model = build_tiny_llama(tmp_path / "tiny", _words())
    clean = tmp_path / "clean"
    clean.mkdir()
    runner.run(load_pipeline(_augment_pipeline(clean, model)))
    expected = {
        step: (_folder(clean, step) / name).read_bytes()
        for step, name in (("candidates", "candidates.jsonl"), ("curated", "samples.jsonl"))
    }

    killed = tmp_path / "killed"
    killed.mkdir()
    path = _augment_pipeline(killed, model)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cookbook", "run", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    steps = killed / "out" / "steps"
    deadline = time.time() + 120
    while time.time() < deadline and not list(steps.glob("candidates-*.partial")):
        time.sleep(0.05)
    time.sleep(0.5)  # some batches of the backward model written
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(steps.glob("candidates-*.partial")), "the run was not caught mid-step"
    assert not [p for p in steps.glob("candidates-*") if not p.name.endswith(".partial")]
    myx = _folder(killed, "myx")
    trained = myx.stat().st_mtime_ns

    manifest = runner.run(load_pipeline(path))
    assert _folder(killed, "myx").stat().st_mtime_ns == trained  # the finished step is reused
    assert [s["name"] for s in manifest["steps"]][-2:] == ["candidates", "curated"]
    for step, name in (("candidates", "candidates.jsonl"), ("curated", "samples.jsonl")):
        assert (_folder(killed, step) / name).read_bytes() == expected[step]
    assert not list(steps.glob("*.partial"))
