"""Instruction backtranslation as one pipeline on a tiny random Llama: seed pairs forward and
reversed, two trainings, segments, self-augmentation, self-curation, a join and a second round,
run and rerun from the cache."""

from __future__ import annotations

import io
import json
import shutil
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

pytest.importorskip("torch")
pytest.importorskip("transformers")

from eval_helpers import one_thread  # noqa: E402
from tiny_llama import build_tiny_llama  # noqa: E402

from cookbook import CookbookError  # noqa: E402
from cookbook.pipeline import runner  # noqa: E402
from cookbook.pipeline.config import load_pipeline  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "backtranslation"


@pytest.fixture(autouse=True)
def single_thread(monkeypatch):
    yield from one_thread(monkeypatch)


def _words() -> list[str]:
    text = (FIXTURES / "seed.jsonl").read_text() + (FIXTURES / "corpus.txt").read_text()
    return sorted(set(text.replace('"', " ").split()) | {"Score:", "5", "Answer"})


def _pipeline(
    tmp_path: Path, model: Path, threshold: int = 5, prompt: str | None = None, rating: str = ""
) -> Path:
    shutil.copy(FIXTURES / "seed.jsonl", tmp_path / "seed.jsonl")
    shutil.copy(FIXTURES / "corpus.txt", tmp_path / "corpus.txt")
    rating_mode = f", rating: {rating}" if rating else ""
    rating = f", prompt: {json.dumps(prompt)}" if prompt is not None else ""
    train = "{trainer: lora, max_steps: 1, batch_size: 2, progress: false}"
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: humpback
        output_dir: out
        model: {model}
        tasks:
          - {{name: heldout, type: instructions, path: seed.jsonl, params: {{holdout: 1}}}}
        steps:
          - {{name: seed, kind: instructions, params: {{path: seed.jsonl, holdout: 1}}}}
          - name: seed_backward
            kind: instructions
            params: {{path: seed.jsonl, holdout: 1, direction: backward}}
          - {{name: m0, kind: train, inputs: {{data: seed}}, params: {train}}}
          - {{name: myx, kind: train, inputs: {{data: seed_backward}}, params: {train}}}
          - name: text
            kind: segments
            params: {{path: corpus.txt, min_chars: 50}}
          - name: candidates
            kind: self_augment
            inputs: {{model: myx, segments: text}}
            params: {{max_new_tokens: 4, batch_size: 2}}
          - name: curated
            kind: self_curate
            inputs: {{model: m0, candidates: candidates}}
            params: {{threshold: {threshold}, max_new_tokens: 4{rating}{rating_mode}}}
          - {{name: round1, kind: join, inputs: {{parts: [seed, curated]}}}}
          - {{name: m1, kind: train, inputs: {{data: round1}}, params: {train}}}
          - name: curated2
            kind: self_curate
            inputs: {{model: m1, candidates: candidates}}
            params: {{threshold: 1, iteration: 2, max_new_tokens: 4, tag: null}}
          - name: results
            kind: eval
            inputs: {{models: [m0, m1]}}
            params: {{tasks: [heldout], template_samples: 0}}
        """)
    )
    return path


def _folder(tmp_path: Path, step: str) -> Path:
    (folder,) = (tmp_path / "out" / "steps").glob(f"{step}-*")
    return folder


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_method_runs_end_to_end_and_reruns_from_the_cache(tmp_path):
    model = build_tiny_llama(tmp_path / "tiny", _words())
    path = _pipeline(tmp_path, model)
    manifest = runner.run(load_pipeline(path))
    steps = {s["name"]: s["outputs"] for s in manifest["steps"]}

    seed = _jsonl(_folder(tmp_path, "seed") / "samples.jsonl")
    assert [r["id"] for r in seed] == ["seed-seed:1", "seed-seed:2", "seed-seed:3:1",
                                       "seed-seed:3:2"]  # fmt: skip
    assert seed[0]["prompt"] == "Answer in the style of an AI Assistant.\nName a red fruit."
    assert seed[0]["completion"] == " An apple is a red fruit."
    backward = _jsonl(_folder(tmp_path, "seed_backward") / "samples.jsonl")
    assert backward[0]["prompt"] == "An apple is a red fruit."
    assert backward[0]["completion"] == " Name a red fruit."
    assert "Write a greeting." not in json.dumps(seed + backward)  # the held-out task

    segments = steps["text"]["segments"]
    assert segments["segments"] == 2
    assert segments["dropped"] == {"too_short": 1, "near_duplicate": 1}
    candidates = _jsonl(_folder(tmp_path, "candidates") / "candidates.jsonl")
    assert {c["segment_id"] for c in candidates} <= {"corpus.txt:p1", "corpus.txt:p3"}
    assert all(c["output"].startswith(("The river", "The library")) for c in candidates)

    ratings = _jsonl(_folder(tmp_path, "curated") / "ratings.jsonl")
    assert len(ratings) == len(candidates)
    assert all(r["iteration"] == 1 and "reply" in r for r in ratings)
    curated = steps["curated"]["data"]
    kept = [r for r in ratings if r["score"] is not None and r["score"] >= 5]
    assert curated["samples"] == len(kept)
    assert steps["round1"]["data"]["samples"] == 4 + len(kept)
    assert steps["m1"]["model"]["metrics"]["step"] == 1
    second = _jsonl(_folder(tmp_path, "curated2") / "ratings.jsonl")
    assert [r["segment_id"] for r in second] == [c["segment_id"] for c in candidates]
    assert all(r["iteration"] == 2 for r in second)
    kept2 = _jsonl(_folder(tmp_path, "curated2") / "samples.jsonl")
    assert len(kept2) == sum(r["score"] is not None for r in second)  # threshold 1: all scored
    assert all(r["iteration"] == 2 and not r["prompt"].startswith("Answer with") for r in kept2)

    rows = steps["results"]["results"]["rows"]
    assert [(r["model"], r["name"], r["metric"]) for r in rows] == [
        ("base", "heldout", "rouge_l"), ("m0", "heldout", "rouge_l"), ("m1", "heldout", "rouge_l")
    ]  # fmt: skip
    assert all(r["alignment"] is None and r["result"]["n"] == 1 for r in rows)

    card = (tmp_path / "out" / "README.md").read_text()
    assert "| heldout (task) | rouge_l |" in card
    assert "Unlabelled segments: 2 kept; dropped: 1 too_short, 1 near_duplicate." in card
    assert "Self-curation (iteration 1, threshold 5)" in card

    before = (tmp_path / "out" / "manifest.json").read_text()
    assert all(step.cached for step in runner.plan(load_pipeline(path)))
    runner.run(load_pipeline(path))
    assert (tmp_path / "out" / "manifest.json").read_text() == before


def test_a_rating_prompt_without_its_placeholders_is_refused_before_anything_runs(tmp_path):
    path = _pipeline(tmp_path, tmp_path / "tiny", prompt="Rate this: {instruction}")
    with pytest.raises(CookbookError, match=r"steps\[6\]\.params\.prompt: .*output"):
        load_pipeline(path)


def test_a_corpus_the_filters_empty_is_one_clear_error(tmp_path):
    model = build_tiny_llama(tmp_path / "tiny", _words())
    path = _pipeline(tmp_path, model)
    path.write_text(path.read_text().replace("min_chars: 50", "min_chars: 2000, max_chars: 3000"))
    with pytest.raises(CookbookError, match="no segment passed the filters"):
        runner.run(load_pipeline(path))


def test_the_instructions_task_scores_held_out_tasks_by_rouge_l():
    from cookbook.registry import get_registry

    task = get_registry().get("tasks", "instructions")
    (record,) = task.read(str(FIXTURES / "seed.jsonl"), holdout=1)
    assert record.prompt == "Answer in the style of an AI Assistant.\nWrite a greeting."
    assert record.answers == ["Hello, and welcome to the town."]
    assert task.template is None
    every = list(task.read(str(FIXTURES / "seed.jsonl"), part="all", tag=None))
    assert [r.prompt for r in every][:2] == ["Name a red fruit.", "What colour is the sky?"]
    assert task.metric([record], ["Hello, and welcome to the town."]) == {"rouge_l": 100.0}
    half = task.metric([record], ["Hello and welcome"])["rouge_l"]  # 3 of 6 words, all in order
    assert half == pytest.approx(100 * 2 * (1.0 * 0.5) / 1.5)
    assert task.metric([record], ["Goodbye"]) == {"rouge_l": 0.0}


def _mixture_pipeline(tmp_path: Path, join: str) -> Path:
    shutil.copy(FIXTURES / "seed.jsonl", tmp_path / "seed.jsonl")
    path = tmp_path / "mixture.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: nl-mixture
        output_dir: out
        seed: 3
        templates: [document_qa]
        steps:
          - {{name: templated, kind: generate, params: {{samples: 12}}}}
          - {{name: seed, kind: instructions, params: {{path: seed.jsonl}}}}
          - {{name: mixed, kind: join, inputs: {{parts: [templated, seed]}}, params: {join}}}
        """)
    )
    return path


def test_a_mixture_holds_a_natural_language_source_sampled_to_its_weight(tmp_path):
    path = _mixture_pipeline(tmp_path, "{samples: 10, weights: {templated: 0.3, seed: 0.7}}")
    manifest = runner.run(load_pipeline(path))
    mixed = {s["name"]: s["outputs"] for s in manifest["steps"]}["mixed"]["data"]
    assert mixed["counts"] == {"templated": 3, "seed": 7}  # 7 from a source of 5: cycled
    rows = _jsonl(_folder(tmp_path, "mixed") / "samples.jsonl")
    seed_ids = [r["id"] for r in rows if r["template"] == "seed"]
    assert len(seed_ids) == 7 and len(set(seed_ids)) == 5  # every pair once before any twice
    assert sum(r["template"] == "document_qa" for r in rows) == 3
    again = tmp_path / "again"
    again.mkdir()
    runner.run(load_pipeline(_mixture_pipeline(again, "{samples: 10, weights: "
                                               "{templated: 0.3, seed: 0.7}}")))  # fmt: skip

    def strip(rows):  # provenance names the file where each copy of the seed lies
        return [{k: v for k, v in r.items() if k != "source"} for r in rows]

    assert strip(_jsonl(_folder(again, "mixed") / "samples.jsonl")) == strip(rows)


def test_join_without_weights_concatenates_and_bad_weights_are_refused(tmp_path):
    manifest = runner.run(load_pipeline(_mixture_pipeline(tmp_path, "{}")))
    mixed = {s["name"]: s["outputs"] for s in manifest["steps"]}["mixed"]["data"]
    assert mixed["counts"] == {"templated": 12, "seed": 5} and mixed["samples"] == 17
    with pytest.raises(CookbookError, match=r"weights\.other: 'other' is not one of the parts"):
        load_pipeline(_mixture_pipeline(tmp_path, "{samples: 4, weights: {other: 1}}"))
    with pytest.raises(CookbookError, match="weights and samples go together"):
        load_pipeline(_mixture_pipeline(tmp_path, "{samples: 4}"))


def test_curation_keeps_candidates_rated_at_the_threshold_and_counts_the_rest(
    tmp_path, monkeypatch
):
    """The models' replies scripted (a random model never writes a score): the river segment
    is rated 4, the library segment's reply has no score."""
    import cookbook.engine.inference as inference

    def scripted(model, tokenizer, prompts, **kwargs):
        replies = []
        for prompt in prompts:
            if "Score:" not in prompt:  # self-augmentation: an instruction per segment
                replies.append("Describe the place.")
            elif "The river" in prompt:
                replies.append("Clear and complete.\nScore: 4")
            else:
                replies.append("It is about a library.")
        if kwargs.get("on_progress"):
            kwargs["on_progress"](len(prompts))
        return replies

    model = build_tiny_llama(tmp_path / "tiny", _words())
    monkeypatch.setattr(inference, "generate_greedy", scripted)
    path = _pipeline(tmp_path, model, threshold=4)
    buffer = io.StringIO()
    manifest = runner.run(load_pipeline(path), console=Console(file=buffer, width=300))
    steps = {s["name"]: s["outputs"] for s in manifest["steps"]}
    (kept,) = _jsonl(_folder(tmp_path, "curated") / "samples.jsonl")
    assert kept["prompt"] == "Answer with knowledge from web search.\nDescribe the place."
    assert kept["completion"].startswith(" The river runs") and kept["score"] == 4
    assert (kept["segment_id"], kept["iteration"]) == ("corpus.txt:p1", 1)
    assert steps["round1"]["data"]["counts"] == {"seed": 4, "curated": 1}
    log = " ".join(buffer.getvalue().split())
    assert "kept 1 of 2 candidates (score >= 4); 0 rated lower, 1 replies without a score" in log


def test_rating_by_likelihood_scores_every_candidate(tmp_path):
    """A model too small to write "Score: N" still rates: the likeliest of the five scores."""
    model = build_tiny_llama(tmp_path / "tiny", _words())
    runner.run(load_pipeline(_pipeline(tmp_path, model, threshold=1, rating="likelihood")))
    ratings = _jsonl(_folder(tmp_path, "curated") / "ratings.jsonl")
    assert ratings and all(r["score"] in (1, 2, 3, 4, 5) for r in ratings)
    assert all(r["reply"] == f"Score: {r['score']}" for r in ratings)
    kept = _jsonl(_folder(tmp_path, "curated") / "samples.jsonl")
    assert len(kept) == len(ratings)  # threshold 1 keeps every rated candidate


def test_the_instructions_task_reports_the_references_per_token_log_likelihood(tmp_path):
    from eval_helpers import load_reference, reference_logprob

    import cookbook.engine as engine

    model = build_tiny_llama(tmp_path / "tiny", _words())
    seed = str(FIXTURES / "seed.jsonl")
    result = engine.evaluate_task(
        "instructions", seed, str(model), params={"part": "all"}, max_new_tokens=2,
        progress=False,
    )  # fmt: skip
    reference, tokenizer = load_reference(model)
    records = list(engine_task().read(seed, part="all"))
    direct = []
    for record in records:
        answer = " " + record.answers[0]
        tokens = len(tokenizer(answer, add_special_tokens=False)["input_ids"])
        direct.append(reference_logprob(reference, tokenizer, record.prompt, answer, True) / tokens)
    assert result["reference_loglik"] == pytest.approx(sum(direct) / len(direct), abs=1e-4)
    assert result["reference_loglik"] < 0 and result["n"] == 5


def engine_task():
    from cookbook.registry import get_registry

    return get_registry().get("tasks", "instructions")
