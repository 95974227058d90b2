"""The evaluator on a tiny random Llama: batched generation and log-likelihoods against direct
computations, metrics and alignment flowing through, adapters, template evaluation, plots."""

from __future__ import annotations

import json
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from eval_helpers import (  # noqa: E402
    FAKE_PLUGIN,
    load_reference,
    one_thread,
    reference_greedy,
    reference_logprob,
    tiny_vocabulary,
    write_data,
)
from tiny_llama import build_tiny_llama  # noqa: E402

from cookbook import CookbookError, ModelInfo  # noqa: E402
from cookbook.contract.text import normalize_tokens  # noqa: E402
from cookbook.engine.alignment import alignment_scores, summarize  # noqa: E402
from cookbook.engine.calibration import DevData, fit_threshold  # noqa: E402
from cookbook.engine.evaluation import (  # noqa: E402
    evaluate_task,
    evaluate_template,
    load_eval_model,
    plot_comparison,
    token_budget,
    trained_chat_setting,
)
from cookbook.engine.inference import (  # noqa: E402
    CHARS_PER_TOKEN,
    clip_text,
    context_limit,
    continuation_logprobs,
    cut_at,
    generate_greedy,
    length_batches,
    stop_criterion,
    stop_for,
)
from cookbook.engine.models import format_prompt  # noqa: E402
from cookbook.engine.samples import SampleMaker  # noqa: E402
from cookbook.engine.token_spaces import resolve_token_space  # noqa: E402
from cookbook.registry import get_registry  # noqa: E402

PROMPTS = [
    "copy w1 to",
    "copy w2 w3 w4 w5 w6 to",
    "pick w7 answer",
    "copy w8 w9 to w10 w11 w0 w1 w2 w3",
    "to",
    "copy w4 w4 to",
]


@pytest.fixture(autouse=True)
def single_thread(monkeypatch):
    yield from one_thread(monkeypatch)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_llama(tmp_path_factory.mktemp("tiny"), tiny_vocabulary())


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory):
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-chat"), tiny_vocabulary(), chat=True)


@pytest.fixture
def fake_plugin(install_fake, tmp_path):
    install_fake("cookbook-fake-tasks", "fake_tasks", FAKE_PLUGIN)
    return write_data(tmp_path)


def test_length_batches_group_longest_first_and_cover_every_index():
    batches = length_batches([3, 9, 1, 9, 5], batch_size=2)
    assert batches == [[1, 3], [4, 0], [2]]


def test_batched_generation_equals_one_by_one_greedy_decoding(tiny_model):
    model, tokenizer = load_reference(tiny_model)
    batched = generate_greedy(model, tokenizer, PROMPTS, max_new_tokens=6, stop=None, batch_size=4)
    expected = [reference_greedy(model, tokenizer, p, 6, True) for p in PROMPTS]
    assert batched == expected
    assert len(set(batched)) > 1


def test_generation_is_the_same_for_any_batch_size(tiny_model):
    model, tokenizer = load_reference(tiny_model)
    runs = [
        generate_greedy(model, tokenizer, PROMPTS, max_new_tokens=5, batch_size=size)
        for size in (1, 2, 6)
    ]
    assert runs[0] == runs[1] == runs[2]


def test_sampling_is_seeded_and_greedy_is_the_default(tiny_model):
    model, tokenizer = load_reference(tiny_model)
    greedy = generate_greedy(model, tokenizer, PROMPTS, max_new_tokens=6, stop=None)
    sampled = [
        generate_greedy(model, tokenizer, PROMPTS, max_new_tokens=6, stop=None,
                        temperature=2.0, seed=seed)
        for seed in (1, 1, 2)
    ]  # fmt: skip
    assert sampled[0] == sampled[1]  # the same seed, the same texts
    assert sampled[0] != sampled[2] and sampled[0] != greedy
    assert generate_greedy(model, tokenizer, PROMPTS, max_new_tokens=6, stop=None) == greedy


def test_choice_logprobs_match_a_direct_computation(tiny_model):
    model, tokenizer = load_reference(tiny_model)
    pairs = [
        ("pick w1 w2 answer", " w1"),
        ("pick w1 w2 answer", " w2 w3 w4"),
        ("copy w5 w6 w7 w8 w9 to", " w5"),
        ("to", " w0 w0"),
    ]
    batched = continuation_logprobs(model, tokenizer, pairs, batch_size=3)
    for (context, continuation), value in zip(pairs, batched, strict=True):
        direct = reference_logprob(model, tokenizer, context, continuation, True)
        assert value == pytest.approx(direct, abs=1e-4)
    assert all(v < 0 for v in batched)


def test_each_context_is_read_once_for_all_its_continuations(tiny_model):
    model, tokenizer = load_reference(tiny_model)
    pairs = [(f"pick {w} answer", f" {c}") for w in ("w1", "w2 w3") for c in ("w4", "w5", "w6")]
    pairs += [("pick w1 answer", " w4 w5"), ("copy w7 to", " w7"), ("copy w7 to", "")]
    tokens = []
    hook = model.register_forward_pre_hook(
        lambda module, args, kwargs: tokens.append(kwargs["input_ids"].shape), with_kwargs=True
    )
    batched = continuation_logprobs(model, tokenizer, pairs, batch_size=8)
    hook.remove()
    # One pass over the three contexts (their last logits score every one-token choice), then
    # one row for the only continuation longer than a token, after its context's cache.
    assert [tuple(shape) for shape in tokens] == [(3, 4), (1, 1)]
    for (context, continuation), value in zip(pairs, batched, strict=True):
        direct = reference_logprob(model, tokenizer, context, continuation, True)
        assert value == pytest.approx(direct, abs=1e-4)
    assert batched[-1] == 0.0


def test_a_short_context_before_long_continuations_is_not_shared(tiny_model):
    """Two long solutions to a short goal (PIQA): reading the goal once would save less than
    the second pass over the continuations costs, so each pair is one sequence."""
    model, tokenizer = load_reference(tiny_model)
    pairs = [("pick w1", " w2 w3 w4 w5 w6"), ("pick w1", " w7 w8 w9 w10 w11")]
    shapes = []
    hook = model.register_forward_pre_hook(
        lambda module, args, kwargs: shapes.append(tuple(kwargs["input_ids"].shape)),
        with_kwargs=True,
    )
    continuation_logprobs(model, tokenizer, pairs, batch_size=8)
    hook.remove()
    assert shapes == [(2, 7)]


def test_shared_contexts_score_as_one_sequence_per_pair(tiny_model):
    """The cached path against the plain one, on contexts and continuations of mixed lengths,
    batch sizes that split them, and a pair too long for the model (which keeps its end)."""
    model, tokenizer = load_reference(tiny_model)
    words = [f"w{i}" for i in range(12)]
    pairs = []
    for n in range(1, 8):
        context = "pick " + " ".join(words[:n]) + " answer"
        for m in (1, 2, 5):
            pairs.append((context, " " + " ".join(words[n : n + m])))
    pairs.append((" ".join(words * 30), " w1 w2"))  # longer than the 256 positions it takes
    for size in (1, 4, 64):
        shared = continuation_logprobs(model, tokenizer, pairs, batch_size=size)
        plain = continuation_logprobs(
            model, tokenizer, pairs, batch_size=size, shared_contexts=False
        )
        assert shared == pytest.approx(plain, abs=1e-4)


def test_huge_prompts_are_cut_to_the_context_before_they_are_tokenised(tiny_model, monkeypatch):
    """A whole book as one context must not reach the tokenizer whole (a 30 MB SQuAD context
    made it abort the process); what the model sees is unchanged: the prompt's last tokens."""
    model, tokenizer = load_reference(tiny_model)
    words = [f"w{i % 12}" for i in range(300_000)] + ["copy", "w1", "to"]
    prompt = " ".join(words)  # about 1 MB, the model takes 256 tokens
    seen = []
    original = type(tokenizer).__call__

    def recording(self, text, *args, **kwargs):
        seen.append(len(text))
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(type(tokenizer), "__call__", recording)
    limit = context_limit(model)
    [output] = generate_greedy(model, tokenizer, [prompt], max_new_tokens=4, stop=None)
    [logprob] = continuation_logprobs(model, tokenizer, [(prompt, " w1")])
    assert seen and max(seen) <= limit * CHARS_PER_TOKEN
    monkeypatch.undo()
    room = limit - 4
    assert output == reference_greedy(model, tokenizer, " ".join(words[-room:]), 4, False)
    tail = " ".join(words[-(limit - 1) :])
    assert logprob == pytest.approx(
        reference_logprob(model, tokenizer, tail, " w1", False), abs=1e-4
    )
    assert clip_text("abcdef", 1) == "abcdef" and len(clip_text("x" * 100, 2)) == 64
    assert clip_text("a" + "b" * 40, 1, "start").startswith("a")


def test_answers_are_cut_at_the_stop_text_after_leading_blanks():
    assert cut_at("\n\n  Paris\nFrance", "\n") == "Paris"
    assert cut_at(" Robert Stevenson \n", "\n") == "Robert Stevenson"
    assert cut_at("\nOne line,\nand two.\n\nNext stanza", "\n\n") == "One line,\nand two."
    assert cut_at("  all of it \n", None) == "all of it"


def test_one_line_answers_stop_at_a_newline_and_stanzas_at_a_blank_line():
    assert stop_for(["Robert Stevenson", " Stevenson\n"]) == "\n"
    assert stop_for(["Roses are red,\nviolets are blue"]) == "\n\n"


def test_stop_criterion_ends_a_row_only_after_its_answer_has_begun():
    import torch

    class Decoder:
        texts = {1: "a", 2: "\n", 3: " b"}

        def batch_decode(self, rows, skip_special_tokens=True):
            return ["".join(self.texts[int(t)] for t in row) for row in rows]

    stop = stop_criterion(Decoder(), 1, "\n")
    ids = torch.tensor([[1, 2, 3], [1, 1, 2], [1, 3, 1]])
    assert stop(ids, None).tolist() == [False, True, False]
    paragraph = stop_criterion(Decoder(), 0, "\n\n")
    ids = torch.tensor([[1, 2, 2, 1], [2, 2, 1, 3], [1, 2, 1, 2]])
    assert paragraph(ids, None).tolist() == [True, False, False]


def test_token_budget_follows_the_longest_answer(tiny_model):
    _, tokenizer = load_reference(tiny_model)
    assert token_budget(tokenizer, ["w1", "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10"]) == 10 * 3 // 2 + 8
    assert token_budget(tokenizer, ["w1"]) == 9
    assert token_budget(tokenizer, []) == 8


def test_generate_task_metrics_alignment_and_generations_flow_through(
    tiny_model, fake_plugin, tmp_path
):
    copy, _ = fake_plugin
    out = tmp_path / "gen" / "copy.jsonl"
    result = evaluate_task("copy", str(copy), str(tiny_model), generations_path=out, progress=False)
    task = get_registry().get("tasks", "copy")
    template = get_registry().get("templates", "copy_word")
    records = list(task.read(str(copy)))
    model, tokenizer = load_reference(tiny_model)
    budget = token_budget(tokenizer, [a for r in records for a in r.answers])
    expected = [
        cut_at(reference_greedy(model, tokenizer, r.prompt, budget, True), "\n") for r in records
    ]
    assert task.seen == expected
    assert {k: result[k] for k in ("task", "template", "n")} == {
        "task": "copy",
        "template": "copy_word",
        "n": 5,
    }
    assert result["accuracy"] == pytest.approx(task.metric(records, expected)["accuracy"])
    assert result["words"] == pytest.approx(task.metric(records, expected)["words"])
    summary = summarize(alignment_scores(template, [r.slots for r in records], expected))
    assert result["alignment"] == pytest.approx(summary.statistic)
    assert result["alignment_ci"] == pytest.approx([summary.ci_low, summary.ci_high])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    scores = alignment_scores(template, [r.slots for r in records], expected)
    assert lines == [
        {"id": r.id, "prompt": r.prompt, "references": r.answers, "output": o,
         "metric": {"accuracy": task.metric([r], [o])["accuracy"]}, "alignment": a}
        for r, o, a in zip(records, expected, scores, strict=True)
    ]  # fmt: skip


def test_limit_and_prompt_parameter_reach_the_task(tiny_model, fake_plugin):
    copy, _ = fake_plugin
    result = evaluate_task(
        "copy",
        str(copy),
        str(tiny_model),
        limit=2,
        params={"prompt": "copy {word} to w1"},
        progress=False,
    )
    assert result["n"] == 2
    assert len(get_registry().get("tasks", "copy").seen) == 2


def test_skip_passes_over_the_first_records(tiny_model, fake_plugin, tmp_path):
    copy, _ = fake_plugin
    out = tmp_path / "g.jsonl"
    result = evaluate_task(
        "copy", str(copy), str(tiny_model), skip=1, limit=2, generations_path=out,
        progress=False,
    )  # fmt: skip
    records = list(get_registry().get("tasks", "copy").read(str(copy)))
    assert result["n"] == 2
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [
        r.id for r in records[1:3]
    ]


def test_chat_models_get_the_chat_template_without_added_special_tokens(
    tiny_chat_model, fake_plugin
):
    copy, _ = fake_plugin
    evaluate_task("copy", str(copy), str(tiny_chat_model), max_new_tokens=4, progress=False)
    task = get_registry().get("tasks", "copy")
    model, tokenizer = load_reference(tiny_chat_model)
    expected = []
    for record in task.read(str(copy)):
        text = format_prompt(tokenizer, record.prompt, chat=True)
        assert text.startswith("<|user|>")
        expected.append(cut_at(reference_greedy(model, tokenizer, text, 4, False), "\n"))
    assert task.seen == expected


def test_a_completion_task_gets_plain_prompts_and_the_argument_overrides_it(
    tiny_chat_model, fake_plugin, monkeypatch
):
    copy, _ = fake_plugin
    task = get_registry().get("tasks", "copy")
    model, tokenizer = load_reference(tiny_chat_model)
    records = list(task.read(str(copy)))

    def expected(chat):
        texts = [format_prompt(tokenizer, r.prompt, chat=chat) for r in records]
        return [cut_at(reference_greedy(model, tokenizer, t, 4, not chat), "\n") for t in texts]

    monkeypatch.setattr(task, "chat_template", False, raising=False)
    evaluate_task("copy", str(copy), str(tiny_chat_model), max_new_tokens=4, progress=False)
    plain = task.seen
    assert plain == expected(False)
    evaluate_task(
        "copy", str(copy), str(tiny_chat_model), max_new_tokens=4, progress=False,
        chat_template=True,
    )  # fmt: skip
    assert task.seen == expected(True)
    assert task.seen != plain


def test_cloze_asks_for_plain_text():
    assert get_registry().get("tasks", "cloze").chat_template is False


def test_choice_task_gets_per_choice_logprobs_and_alignment_of_the_chosen_option(
    tiny_model, fake_plugin, tmp_path
):
    _, pick = fake_plugin
    out = tmp_path / "pick.jsonl"
    result = evaluate_task(
        "pick", str(pick), str(tiny_model), batch_size=4, generations_path=out, progress=False
    )
    task = get_registry().get("tasks", "pick")
    template = get_registry().get("templates", "pick_first")
    records = list(task.read(str(pick)))
    model, tokenizer = load_reference(tiny_model)
    for record, scores in zip(records, task.seen, strict=True):
        assert len(scores) == len(record.choices) == 3
        for choice, value in zip(record.choices, scores, strict=True):
            direct = reference_logprob(model, tokenizer, record.prompt, choice, True)
            assert value == pytest.approx(direct, abs=1e-4)
    chosen = [max(range(3), key=s.__getitem__) for s in task.seen]
    picked = [r.choices[c].strip() for r, c in zip(records, chosen, strict=True)]
    scores = alignment_scores(template, [r.slots for r in records], picked)
    assert result["alignment"] == pytest.approx(sum(scores) / len(scores))
    assert result["accuracy"] == pytest.approx(
        100 * sum(c == r.gold for c, r in zip(chosen, records, strict=True)) / len(records)
    )
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["output"] for line in lines] == picked
    assert [line["chosen"] for line in lines] == chosen
    assert [line["id"] for line in lines] == [r.id for r in records]


TWO_CHOICES = "w1 w2 0\nw4 w5 1\nw7 w8 0\nw10 w11 1\nw3 w6 0\nw9 w0 1\nw2 w8 0\nw5 w11 1\n"


def test_a_threshold_fitted_on_development_records_decides_two_choice_records(
    tiny_model, fake_plugin, tmp_path
):
    dev, test = tmp_path / "dev.txt", tmp_path / "test.txt"
    dev.write_text(TWO_CHOICES)
    test.write_text("\n".join(reversed(TWO_CHOICES.splitlines())) + "\n")
    task = get_registry().get("tasks", "pick")
    records = {name: list(task.read(str(path))) for name, path in (("dev", dev), ("test", test))}
    raw = {}
    for name in ("dev", "test"):
        evaluate_task("pick", str(tmp_path / f"{name}.txt"), tiny_model, progress=False)
        raw[name] = task.seen

    def accuracy(scores):
        return task.metric(records["dev"], scores)["accuracy"]

    out = tmp_path / "out.jsonl"
    result = evaluate_task(
        "pick", str(test), tiny_model, dev=DevData(str(dev)), generations_path=out, progress=False
    )
    threshold = fit_threshold(raw["dev"], accuracy)
    assert result["threshold"] == threshold
    chosen = [0 if yes - no >= threshold else 1 for yes, no in raw["test"]]
    expected = [c == r.gold for c, r in zip(chosen, records["test"], strict=True)]
    assert result["accuracy"] == pytest.approx(100 * sum(expected) / len(expected))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["chosen"] for line in lines] == chosen
    assert [line["loglikelihoods"] for line in lines] == raw["test"]  # saved unshifted
    fixed = evaluate_task("pick", str(test), tiny_model, threshold=1e9, progress=False)
    assert fixed["threshold"] == 1e9
    assert fixed["accuracy"] == 50.0  # the second choice everywhere; half the golds are 1


def test_thresholds_need_two_choice_tasks(tiny_model, fake_plugin, tmp_path):
    copy, pick = fake_plugin
    with pytest.raises(CookbookError, match="needs a choice task"):
        evaluate_task("copy", str(copy), tiny_model, threshold=0.5, progress=False)
    with pytest.raises(CookbookError, match="record pick-1 has 3"):
        evaluate_task("pick", str(pick), tiny_model, dev=DevData(str(pick)), progress=False)
    with pytest.raises(CookbookError, match="not both"):
        evaluate_task("pick", str(pick), tiny_model, threshold=0.5, dev=DevData(str(pick)))


def _save_adapter(base_folder, folder, chat=None):
    import torch
    from peft import LoraConfig, get_peft_model

    model, _ = load_reference(base_folder)
    torch.manual_seed(1)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    tuned = get_peft_model(model, config)
    tuned.save_pretrained(folder)
    if chat is not None:
        ModelInfo(base=str(base_folder), chat_template=chat, trainer="lora").save(folder)
    return folder


def test_adapter_is_applied_on_top_of_the_base_model(tiny_model, fake_plugin, tmp_path):
    from peft import PeftModel

    _, pick = fake_plugin
    adapter = _save_adapter(tiny_model, tmp_path / "adapter")
    evaluate_task("pick", str(pick), str(tiny_model), progress=False)
    task = get_registry().get("tasks", "pick")
    base_scores = task.seen
    evaluate_task("pick", str(pick), str(tiny_model), str(adapter), progress=False)
    tuned_scores = task.seen
    model, tokenizer = load_reference(tiny_model)
    tuned_model = PeftModel.from_pretrained(model, str(adapter)).eval()
    record = next(iter(task.read(str(pick))))
    direct = reference_logprob(tuned_model, tokenizer, record.prompt, record.choices[1], True)
    assert tuned_scores[0][1] == pytest.approx(direct, abs=1e-4)
    assert tuned_scores[0][1] != pytest.approx(base_scores[0][1], abs=1e-3)


def test_the_chat_setting_recorded_by_the_trainer_is_used(tiny_chat_model, tmp_path):
    recorded = _save_adapter(tiny_chat_model, tmp_path / "plain", chat=False)
    assert trained_chat_setting(str(recorded)) is False
    assert load_eval_model(str(tiny_chat_model), str(recorded)).chat is False
    unrecorded = _save_adapter(tiny_chat_model, tmp_path / "auto")
    assert trained_chat_setting(str(unrecorded)) == "auto"
    assert load_eval_model(str(tiny_chat_model), str(unrecorded)).chat is True


def test_a_folder_without_an_adapter_is_a_clear_error(tiny_model, tmp_path):
    with pytest.raises(CookbookError, match="no adapter_config.json"):
        load_eval_model(str(tiny_model), str(tmp_path))


def test_unknown_task_and_empty_data_are_clear_errors(tiny_model, fake_plugin, tmp_path):
    copy, _ = fake_plugin
    with pytest.raises(CookbookError, match="copy"):
        evaluate_task("cpy", str(copy), str(tiny_model), progress=False)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(CookbookError, match="no records"):
        evaluate_task("copy", str(empty), str(tiny_model), progress=False)
    with pytest.raises(CookbookError, match="colour"):
        evaluate_task("copy", str(copy), str(tiny_model), params={"colour": 1}, progress=False)


def test_template_evaluation_scores_fresh_samples(tiny_model, fake_plugin, tmp_path):
    out = tmp_path / "template.jsonl"
    result = evaluate_template(
        "copy_word",
        str(tiny_model),
        params={"length": 2},
        n=6,
        seed=3,
        token_space="tiny_words",
        generations_path=out,
        progress=False,
    )
    registry = get_registry()
    template = registry.get("templates", "copy_word")
    params = template.resolve({"length": 2})
    maker = SampleMaker(
        template, "copy_word", params, 3, resolve_token_space("tiny_words", registry)
    )
    samples = [maker.record(i) for i in range(6)]
    outputs = [json.loads(line)["output"] for line in out.read_text().splitlines()]
    model, tokenizer = load_reference(tiny_model)
    budget = token_budget(tokenizer, [s["completion"] for s in samples])
    assert outputs == [
        cut_at(reference_greedy(model, tokenizer, s["prompt"], budget, True), "\n") for s in samples
    ]
    scores = alignment_scores(template, [s["slots"] for s in samples], outputs, params)
    exact = [
        normalize_tokens(o) == normalize_tokens(s["slots"]["answer"])
        for o, s in zip(outputs, samples, strict=True)
    ]
    assert result["template"] == "copy_word" and result["n"] == 6
    assert result["alignment"] == pytest.approx(sum(scores) / 6)
    assert result["exact"] == pytest.approx(sum(exact) / 6)


ROWS = [
    {"model": "base", "kind": "task", "name": "squad", "metric": "f1", "value": 20.0,
     "alignment": 0.4},
    {"model": "tuned", "kind": "task", "name": "squad", "metric": "f1", "value": 31.5,
     "alignment": 0.6},
    {"model": "base", "kind": "template", "name": "document_qa", "metric": "exact",
     "value": 2.0, "alignment": 0.1},
    {"model": "tuned", "kind": "template", "name": "document_qa", "metric": "exact",
     "value": 40.0, "alignment": 0.7},
]  # fmt: skip


def test_plot_comparison_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot_comparison(ROWS, tmp_path / "plots" / "comparison.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["comparison.png"]


def test_plot_comparison_without_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(CookbookError, match=r"cookbook-llm\[plot\]"):
        plot_comparison(ROWS, tmp_path / "comparison.png")
    assert not (tmp_path / "comparison.png").exists()
