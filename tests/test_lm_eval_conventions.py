"""Choice tasks scored in lm-evaluation-harness's convention, dataset by dataset.

The expected (context, continuation) pairs below are what lm-evaluation-harness 0.4.13 built
from the hand-written Hugging Face rows in ``fixtures/multiple_choice/hf`` (its own task
configs, read with ``ConfigurableTask`` over those files; ``test_the_harness_builds_the_same_
pairs`` repeats that where the harness is installed). The llm-foundry rows in
``fixtures/multiple_choice/foundry`` hold the same questions and must give the same pairs.
"""

from __future__ import annotations

import io
import json
import shutil
import textwrap
from pathlib import Path

import pytest
from eval_helpers import load_reference, one_thread, reference_logprob
from rich.console import Console
from tiny_llama import build_tiny_llama

from cookbook import CookbookError, chat_setting
from cookbook.registry import get_registry

MC = Path(__file__).parent / "fixtures" / "multiple_choice"
HF, FOUNDRY = MC / "hf", MC / "foundry"

_ARC_E = "Question: Which season is coldest in Canada?\nAnswer:"
_ARC_C1 = "Question: Which tool measures the mass of a rock?\nAnswer:"
_ARC_C2 = "Question: What do plants take in to make food?\nAnswer:"
_BOOLQ1 = (
    "Harbour seals live along the coasts of the northern hemisphere.\n"
    "Question: do harbour seals live in the northern hemisphere?\nAnswer:"
)
_BOOLQ2 = (
    "A tomato is botanically a fruit, though it is cooked as a vegetable.\n"
    "Question: is a tomato a vegetable in botany?\nAnswer:"
)
_PIQA = "Question: How do I keep bread fresh?\nAnswer:"
_HELLA1 = "Baking cookies: A woman mixes flour and butter in a bowl. She"
_HELLA2 = "Home and Garden: How to water a fern. Check the soil."
_WINO1 = "Sarah lent Maria a book because "
_WINO2 = "The trophy did not fit in the suitcase because the "

#: Per dataset, per record: the gold index and the (context, continuation) of each choice.
EXPECTED = {
    "arc_easy": [(1, [(_ARC_E, " summer"), (_ARC_E, " winter"), (_ARC_E, " spring"),
                      (_ARC_E, " autumn")])],
    "arc_challenge": [
        (1, [(_ARC_C1, " a ruler"), (_ARC_C1, " a balance"), (_ARC_C1, " a thermometer")]),
        (2, [(_ARC_C2, " oxygen"), (_ARC_C2, " sand"), (_ARC_C2, " carbon dioxide"),
             (_ARC_C2, " salt")]),
    ],
    "boolq": [(1, [(_BOOLQ1, " no"), (_BOOLQ1, " yes")]),
              (0, [(_BOOLQ2, " no"), (_BOOLQ2, " yes")])],
    "piqa": [(0, [(_PIQA, " Store it in a sealed bag."),
                  (_PIQA, " Store it in a bowl of water.")])],
    "openbookqa": [(1, [("Plants need sunlight to", f" {c}")
                        for c in ("sleep", "make food", "walk", "sing")])],
    "copa": [
        (0, [("The glass fell off the table therefore", "  it shattered."),
             ("The glass fell off the table therefore", "  it floated away.")]),
        (1, [("I opened my umbrella because", "  the sun came out."),
             ("I opened my umbrella because", "  it started to rain.")]),
    ],
    "hellaswag": [
        (2, [(_HELLA1, " throws the bowl at the wall."), (_HELLA1, " sings to the oven."),
             (_HELLA1, " rolls the dough into small balls."),
             (_HELLA1, " paints the flour blue.")]),
        (0, [(_HELLA2, " Water it when the top inch feels dry. Ferns like damp soil."),
             (_HELLA2, " Bury it in sand. Then forget it."), (_HELLA2, " Paint the leaves."),
             (_HELLA2, " Feed it to a goat.")]),
    ],
    "winogrande": [
        (0, [(_WINO1 + "Sarah", " had already finished reading it."),
             (_WINO1 + "Maria", " had already finished reading it.")]),
        (1, [(_WINO2 + "trophy", " was too small."), (_WINO2 + "suitcase", " was too small.")]),
    ],
}  # fmt: skip
FOUNDRY_FILES = {"openbookqa": "openbook_qa"}


def _pairs(records):
    return [(r.gold, [(r.choice_context(i), c) for i, c in enumerate(r.choices)]) for r in records]


@pytest.mark.parametrize("dataset", sorted(EXPECTED))
def test_hugging_face_rows_give_the_harness_pairs(dataset):
    task = get_registry().get("tasks", dataset)
    records = list(task.read(str(HF / f"{dataset}.jsonl")))
    assert _pairs(records) == EXPECTED[dataset]
    assert {r.meta["format"] for r in records} == {f"lm-eval/{dataset}"}


@pytest.mark.parametrize("dataset", sorted(EXPECTED))
def test_llm_foundry_rows_give_the_same_pairs(dataset):
    path = FOUNDRY / f"{FOUNDRY_FILES.get(dataset, dataset)}.jsonl"  # every dataset has one
    by_name = list(get_registry().get("tasks", "multiple_choice").read(str(path)))
    assert _pairs(by_name) == EXPECTED[dataset]  # the dataset found from the file's name
    assert {r.meta["format"] for r in by_name} == {f"lm-eval/{dataset}"}


@pytest.mark.parametrize("dataset", ["boolq", "piqa", "copa", "hellaswag", "winogrande"])
def test_the_multiple_choice_task_finds_hugging_face_datasets_by_their_fields(dataset, tmp_path):
    renamed = tmp_path / "validation.jsonl"  # a name that says nothing
    renamed.write_text((HF / f"{dataset}.jsonl").read_text())
    records = list(get_registry().get("tasks", "multiple_choice").read(str(renamed)))
    assert _pairs(records) == EXPECTED[dataset]


def test_an_unknown_llm_foundry_file_is_read_as_it_is_and_says_so(tmp_path):
    path = tmp_path / "siqa.jsonl"
    path.write_text(json.dumps({"query": "Why did Kai run?", "choices": ["late", "early"],
                                "gold": 0}) + "\n")  # fmt: skip
    (record,) = get_registry().get("tasks", "multiple_choice").read(str(path))
    assert (record.prompt, record.choices) == ("Why did Kai run?", [" late", " early"])
    assert record.meta["format"] == "lm-eval/generic"


def test_winogrande_labels_choices_by_their_option_for_alignment():
    task = get_registry().get("tasks", "winogrande")
    for folder in (HF, FOUNDRY):
        first, second = task.read(str(folder / "winogrande.jsonl"))
        assert [first.choice_label(0), first.choice_label(1)] == ["Sarah", "Maria"]
        assert second.answers == ["suitcase"]
        assert first.slots["options"] == ["Sarah", "Maria"]


def test_acc_norm_divides_by_the_choice_string_length_as_the_harness_does():
    task = get_registry().get("tasks", "arc_challenge")
    first, _ = task.read(str(HF / "arc_challenge.jsonl"))  # gold: " a balance"
    # "a ruler" 7, "a balance" 9, "a thermometer" 13 characters (the delimiter not counted).
    assert task.metric([first], [[-8.0, -6.0, -16.0]]) == {
        "accuracy": 100.0,
        "accuracy_norm": 100.0,
    }
    assert task.metric([first], [[-6.0, -6.5, -20.0]]) == {"accuracy": 0.0, "accuracy_norm": 100.0}
    # Counting the leading space would make it 8 and 10 characters and pick "a ruler".
    assert task.metric([first], [[-7.1, -9.1, -100.0]])["accuracy_norm"] == 100.0


def test_plain_text_by_default_and_the_lettered_form_as_an_option():
    task = get_registry().get("tasks", "arc_challenge")
    assert chat_setting(task, {"format": "lm-eval"}) is False
    assert chat_setting(task, {"format": "lettered"}) is None  # as the model was trained
    first, _ = task.read(str(HF / "arc_challenge.jsonl"), format="lettered")
    assert first.prompt == (
        "Question: Which tool measures the mass of a rock?\nA. a ruler\nB. a balance\n"
        "C. a thermometer\nAnswer:"
    )
    assert first.meta["format"] == "lettered/arc_challenge"


@pytest.mark.parametrize(
    "row, fragment",
    [
        ({"sentence": "no blank here", "option1": "a", "option2": "b", "answer": "1"},
         "has no blank '_'"),
        ({"sentence": "a _ b", "option1": "a", "option2": "b", "answer": "3"},
         "'answer' must be '1' or '2'"),
        ({"sentence": "a _ b", "option1": "a", "answer": "1"}, "missing field 'option2'"),
    ],
)  # fmt: skip
def test_bad_rows_name_the_file_line_and_field(row, fragment, tmp_path):
    path = tmp_path / "winogrande_dev.jsonl"
    path.write_text(json.dumps({"sentence": "a _ b", "option1": "x", "option2": "y",
                                "answer": "1"}) + "\n" + json.dumps(row) + "\n")  # fmt: skip
    with pytest.raises(CookbookError) as err:
        list(get_registry().get("tasks", "multiple_choice").read(str(path)))
    assert f"{path}:2: " in str(err.value) and fragment in str(err.value)
    assert "reading it as winogrande" in str(err.value)


@pytest.fixture
def single_thread(monkeypatch):
    yield from one_thread(monkeypatch)


@pytest.fixture(scope="module")
def tiny_words_model(tmp_path_factory):
    words = set()
    for rows in EXPECTED.values():
        for _, pairs in rows:
            for context, continuation in pairs:
                words.update((context + " " + continuation).split())
    return build_tiny_llama(tmp_path_factory.mktemp("mc-model"), sorted(words))


@pytest.mark.parametrize("dataset", ["copa", "winogrande", "hellaswag"])
def test_log_likelihoods_are_the_continuations_after_their_own_contexts(
    dataset, tiny_words_model, single_thread, tmp_path
):
    import cookbook.engine as engine

    out = tmp_path / "generations.jsonl"
    result = engine.evaluate_task(
        dataset, str(HF / f"{dataset}.jsonl"), str(tiny_words_model),
        generations_path=out, progress=False,
    )  # fmt: skip
    assert result["format"] == f"lm-eval/{dataset}"
    assert result["chat_template"] is False
    model, tokenizer = load_reference(tiny_words_model)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    for (_, pairs), line in zip(EXPECTED[dataset], lines, strict=True):
        direct = [reference_logprob(model, tokenizer, c, t, True) for c, t in pairs]
        assert line["loglikelihoods"] == pytest.approx(direct, abs=1e-4)


def test_the_harness_builds_the_same_pairs():
    """Where lm-evaluation-harness is installed, its own task configs over the same files."""
    pytest.importorskip("lm_eval")
    import logging

    import lm_eval
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks._yaml_loader import load_yaml

    configs = {
        "arc_easy": "arc/arc_easy.yaml",
        "arc_challenge": "arc/arc_challenge.yaml",
        "boolq": "super_glue/boolq/default.yaml",
        "piqa": "piqa/piqa.yaml",
        "openbookqa": "openbookqa/openbookqa.yaml",
        "copa": "super_glue/copa/default.yaml",
        "hellaswag": "hellaswag/hellaswag.yaml",
        "winogrande": "winogrande/default.yaml",
    }
    root = Path(lm_eval.__file__).parent / "tasks"
    logging.disable(logging.WARNING)
    try:
        for dataset, config_path in configs.items():
            config = load_yaml(root / config_path)
            config.pop("tag", None)
            config.update(
                dataset_path="json",
                dataset_name=None,
                training_split=None,
                test_split=None,
                validation_split="validation",
                dataset_kwargs={"data_files": {"validation": str(HF / f"{dataset}.jsonl")}},
            )
            harness = ConfigurableTask(config=config)
            harness.build_all_requests(rank=0, world_size=1)
            pairs: dict[int, list] = {}
            for instance in harness.instances:
                pairs.setdefault(instance.doc_id, []).append(tuple(instance.arguments))
            ours = _pairs(get_registry().get("tasks", dataset).read(str(HF / f"{dataset}.jsonl")))
            assert [p for _, p in ours] == [pairs[i] for i in sorted(pairs)], dataset
    finally:
        logging.disable(logging.NOTSET)


def test_a_pipeline_scores_the_suite_and_reports_its_average(
    tiny_words_model, single_thread, tmp_path
):
    from cookbook.pipeline import runner
    from cookbook.pipeline.config import load_pipeline

    for name in ("copa", "winogrande", "boolq"):
        shutil.copy(HF / f"{name}.jsonl", tmp_path / f"{name}.jsonl")
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: suite
        output_dir: out
        model: {tiny_words_model}
        token_space: pseudowords
        templates:
          - name: multiple_choice
            params: {{prompt: "{{context}}\\nQuestion: {{question}}\\nAnswer:"}}
        tasks:
          - {{name: copa, type: copa, path: copa.jsonl}}
          - {{name: wino, type: multiple_choice, path: winogrande.jsonl}}
          - {{name: boolq, type: boolq, path: boolq.jsonl}}
        generate:
          samples: 8
        train:
          trainer: lora
          max_steps: 1
          batch_size: 4
          chat_template: false
          progress: false
        eval:
          tasks: [copa, wino, boolq]
          averages: {{suite: [copa, wino, boolq], two: [copa, boolq]}}
          template_samples: 0
        """)
    )
    buffer = io.StringIO()
    manifest = runner.run(load_pipeline(path), console=Console(file=buffer, width=300))
    logged = buffer.getvalue().splitlines()
    rows = {s["name"]: s["outputs"] for s in manifest["steps"]}["eval"]["results"]["rows"]
    for model in ("base", "tuned"):
        tasks = {r["name"]: r for r in rows if r["model"] == model and r["kind"] == "task"}
        averages = {
            r["name"]: r["value"] for r in rows if r["model"] == model and r["kind"] == "average"
        }
        values = {name: row["value"] for name, row in tasks.items()}
        assert averages["suite"] == pytest.approx(sum(values.values()) / 3)
        assert averages["two"] == pytest.approx((values["copa"] + values["boolq"]) / 2)
        assert tasks["wino"]["result"]["format"] == "lm-eval/winogrande"
        assert all(row["result"]["chat_template"] is False for row in tasks.values())
        assert any(line.startswith(f"{model}: suite mean of copa, wino, boolq") for line in logged)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "| suite (average) |" in card
    assert "| wino (task) | accuracy (lm-eval/winogrande) |" in card


def test_an_average_must_name_tasks_of_the_step(tmp_path):
    from cookbook.pipeline.config import load_pipeline

    shutil.copy(HF / "copa.jsonl", tmp_path / "copa.jsonl")
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        "name: x\nmodel: smollm2-135m-instruct\n"
        "tasks: [{name: copa, type: copa, path: copa.jsonl}]\n"
        "eval: {tasks: [copa], averages: {suite: [copa, piqa]}}\n"
    )
    with pytest.raises(
        CookbookError, match=r"averages.suite\[1\]: 'piqa' is not one of this step's tasks"
    ):
        load_pipeline(path)
