"""The multiple_choice task: JSONL rows into multiple_choice records, choice accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest

from cookbook import CookbookError
from cookbook.registry import get_registry
from cookbook_plugins.multiple_choice.conventions import query_slots
from cookbook_plugins.multiple_choice.multiple_choice_task import multiple_choice_task as task

MC = Path(__file__).parent / "fixtures" / "multiple_choice"


def test_the_task_is_registered_as_a_choice_task():
    assert get_registry().get("tasks", "multiple_choice") is task
    assert (task.template, task.mode) == ("multiple_choice", "choice")


@pytest.mark.parametrize(
    "query, context, question",
    [
        ("Question: Which gas?", "", "Which gas?"),
        ("Passage: Seals swim.\nQuestion: do seals swim?", "Seals swim.", "do seals swim?"),
        ("Question: How do I keep bread fresh?\n", "", "How do I keep bread fresh?"),
        ("The glass fell, therefore", "", "The glass fell, therefore"),
        ("Question: Why?\nAnswer:", "", "Why?"),
    ],
)
def test_query_framing_is_mapped_into_context_and_question(query, context, question):
    assert query_slots(query) == {"context": context, "question": question}


def test_records_carry_options_choices_gold_and_the_template_prompt():
    (record,) = task.read(str(MC / "boolq_small.jsonl"))
    assert record.id == "boolq_small-1"
    assert record.slots["context"].startswith("The harbour seal")
    assert record.slots["options"] == ["no", "yes"]
    assert record.choices == [" no", " yes"]
    assert (record.gold, record.answers) == (1, ["yes"])
    assert record.prompt.startswith("The harbour seal")  # BoolQ as the harness writes it
    assert record.prompt.endswith(
        "\nQuestion: is the harbour seal found in the northern hemisphere?\nAnswer:"
    )
    (lettered,) = task.read(str(MC / "boolq_small.jsonl"), format="lettered")
    assert lettered.prompt.endswith(
        "Question: is the harbour seal found in the northern hemisphere?\nA. no\nB. yes\nAnswer:"
    )


def test_a_folder_and_split_name_the_file():
    records = list(task.read(str(MC), split="arc_small"))
    assert [r.gold for r in records] == [1, 2]


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("bad_gold.jsonl", "bad_gold.jsonl:2: field 'gold' 5 is not an index"),
        ("bad_line.jsonl", "bad_line.jsonl:3: not valid JSON"),
        ("nope.jsonl", "no such file or folder"),
    ],
)
def test_bad_records_are_errors_naming_file_and_line(name, fragment):
    with pytest.raises(CookbookError) as err:
        list(task.read(str(MC / name)))
    assert fragment in str(err.value)


def test_accuracy_picks_the_highest_log_likelihood_and_norm_divides_by_length():
    records = list(task.read(str(MC / "arc_small.jsonl")))
    # Record 1 gold is "carbon dioxide gas" (18 chars): lower sum, higher per character.
    # Record 2 gold is "a balance" (9 chars): highest sum, lower per character than choice 3.
    outputs = [[-5.0, -9.0, -12.0, -12.0], [-20.0, -20.0, -4.0, -5.0]]
    metrics = task.metric(records, outputs)
    assert metrics == {"accuracy": 50.0, "accuracy_norm": 50.0}
    assert task.metric(records, [[-9, -1, -9, -9], [-9, -9, -1, -9]])["accuracy"] == 100.0


def test_outputs_need_one_number_per_choice():
    records = list(task.read(str(MC / "arc_small.jsonl")))
    with pytest.raises(CookbookError, match="arc_small-2: expected 4 log-probabilities"):
        task.metric(records, [[0, 0, 0, 0], [0, 0]])
