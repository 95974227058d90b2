"""Instruction backtranslation's seed data: (instruction, output) pairs read from Self-Instruct
seed tasks, Alpaca rows and chats, their ids and places, bad rows, and held-out tasks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cookbook import CookbookError
from cookbook_plugins.backtranslation.instruction_files import (
    InstructionPair,
    read_instruction_pairs,
    split_holdout,
    task_of,
)

SEED_FILE = Path("/work/shared/data/instructions/seed_tasks.jsonl")


def write_rows(path: Path, *rows: object) -> Path:
    """A JSONL file with one row per line (a str row is written as it is)."""
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def seed_task(instruction: str, *instances: tuple[str, str]) -> dict:
    return {
        "id": "seed_task_0",
        "name": "a_task",
        "instruction": instruction,
        "instances": [{"input": i, "output": o} for i, o in instances],
        "is_classification": False,
    }


def chat(*turns: tuple[str, object]) -> dict:
    return {"messages": [{"role": role, "content": content} for role, content in turns]}


def error(path: Path, *rows: object) -> str:
    """The message of the CookbookError reading a file of ``rows`` raises."""
    with pytest.raises(CookbookError) as caught:
        read_instruction_pairs(write_rows(path, *rows))
    return str(caught.value)


# --- shapes ------------------------------------------------------------------------------


def test_a_seed_task_with_one_instance_and_no_input(tmp_path):
    path = write_rows(
        tmp_path / "seed.jsonl", seed_task("  Suggest a breakfast. ", ("", " Oats. "))
    )
    assert read_instruction_pairs(path) == [
        InstructionPair("seed:1", "Suggest a breakfast.", "Oats.", f"{path}:1")
    ]


def test_a_seed_task_gives_one_pair_per_instance_with_its_input(tmp_path):
    task = seed_task("Add the numbers.", (" 1 2 ", "3"), ("", "0"), ("4 5", "9"))
    path = write_rows(tmp_path / "seed.jsonl", seed_task("First.", ("", "One.")), task)
    pairs = read_instruction_pairs(path)
    assert [p.id for p in pairs] == ["seed:1", "seed:2:1", "seed:2:2", "seed:2:3"]
    assert [p.instruction for p in pairs[1:]] == [
        "Add the numbers.\n\n1 2",
        "Add the numbers.",
        "Add the numbers.\n\n4 5",
    ]
    assert [p.output for p in pairs[1:]] == ["3", "0", "9"]
    assert {p.source for p in pairs[1:]} == {f"{path}:2"}


def test_alpaca_rows_with_and_without_input(tmp_path):
    path = write_rows(
        tmp_path / "alpaca.jsonl",
        {"instruction": "Translate to French.", "input": " Hello ", "output": "Bonjour"},
        {"instruction": "Name a colour.", "input": "  ", "output": "Blue."},
        {"instruction": "Name a fruit.", "output": "Apple."},
    )
    pairs = read_instruction_pairs(path)
    assert [(p.id, p.instruction, p.output) for p in pairs] == [
        ("alpaca:1", "Translate to French.\n\nHello", "Bonjour"),
        ("alpaca:2", "Name a colour.", "Blue."),
        ("alpaca:3", "Name a fruit.", "Apple."),
    ]


def test_a_multi_turn_chat_gives_a_pair_per_answered_user_message(tmp_path):
    conversation = chat(
        ("system", "You are helpful."),
        ("user", "Hi!"),
        ("assistant", " Hello. "),
        ("user", "Unanswered, then asked again."),
        ("user", "What is 2+2?"),
        ("system", "Be brief."),
        ("assistant", "4"),
        ("assistant", "A second answer pairs with nothing."),
    )
    path = write_rows(tmp_path / "chats.jsonl", conversation)
    pairs = read_instruction_pairs(path)
    assert [(p.id, p.instruction, p.output) for p in pairs] == [
        ("chats:1:1", "Hi!", "Hello."),
        ("chats:1:2", "What is 2+2?", "4"),
    ]
    assert all("You are helpful" not in p.instruction for p in pairs)


def test_a_chat_with_one_exchange_keeps_the_plain_id(tmp_path):
    path = write_rows(tmp_path / "chats.jsonl", chat(("user", "Q?"), ("assistant", "A.")))
    assert [p.id for p in read_instruction_pairs(path)] == ["chats:1"]


def test_a_file_may_mix_the_shapes_and_skips_blank_lines(tmp_path):
    path = write_rows(
        tmp_path / "mixed.jsonl",
        chat(("user", "Q?"), ("assistant", "A.")),
        "",
        {"instruction": "Do it.", "output": "Done."},
        seed_task("Task.", ("x", "y")),
    )
    pairs = read_instruction_pairs(str(path))
    assert [(p.id, p.source) for p in pairs] == [
        ("mixed:1", f"{path}:1"),
        ("mixed:3", f"{path}:3"),
        ("mixed:4", f"{path}:4"),
    ]


@pytest.mark.skipif(not SEED_FILE.is_file(), reason="the Self-Instruct seed tasks are not here")
def test_the_real_self_instruct_seed_tasks():
    pairs = read_instruction_pairs(SEED_FILE)
    assert len({task_of(p) for p in pairs}) == 175
    assert pairs[0].id == "seed_tasks:1"
    assert pairs[0].instruction.startswith("Is there anything I can eat for a breakfast")
    assert pairs[0].output.startswith("Yes, you can have 1 oatmeal banana protein shake")
    assert pairs[1].instruction == (
        "What is the relation between the given pairs?\n\nNight : Day :: Right : Left"
    )


# --- bad input ---------------------------------------------------------------------------


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CookbookError, match=r"nowhere\.jsonl: no such file"):
        read_instruction_pairs(tmp_path / "nowhere.jsonl")


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(CookbookError, match="not a file"):
        read_instruction_pairs(tmp_path)


def test_a_file_without_pairs_is_named(tmp_path):
    path = write_rows(tmp_path / "empty.jsonl", "", "  ")
    with pytest.raises(CookbookError, match=rf"^{re.escape(str(path))}: no instruction pairs"):
        read_instruction_pairs(path)


def test_bad_json_names_the_line(tmp_path):
    message = error(tmp_path / "d.jsonl", {"instruction": "a", "output": "b"}, "{oops")
    assert message.startswith(f"{tmp_path / 'd.jsonl'}:2: not valid JSON")


@pytest.mark.parametrize(
    "row", [{"prompt": "a", "answer": "b"}, {"instruction": "a", "input": "b"}, {}]
)
def test_a_row_of_no_shape_lists_the_four_shapes(tmp_path, row):
    message = error(tmp_path / "d.jsonl", row)
    assert message.startswith(f"{tmp_path / 'd.jsonl'}:1: not an instruction row")
    for shape in ("Self-Instruct", "instances", "Alpaca", '"input"', "chat", "messages",
                  '"prompt", "completion"'):  # fmt: skip
        assert shape in message


def test_prompt_completion_rows_are_pairs_as_they_are(tmp_path):
    path = write_rows(tmp_path / "d.jsonl", {"prompt": " Say hi. ", "completion": " Hi."})
    (pair,) = read_instruction_pairs(path)
    assert (pair.id, pair.instruction, pair.output) == ("d:1", "Say hi.", "Hi.")
    message = error(tmp_path / "e.jsonl", {"prompt": "Say hi.", "completion": " "})
    assert message == f"{tmp_path / 'e.jsonl'}:1: field 'completion' is empty"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"instruction": "  ", "output": "b"}, ":1: field 'instruction' is empty"),
        ({"instruction": "a", "output": "\n"}, ":1: field 'output' is empty"),
        ({"instruction": 3, "output": "b"}, ":1: field 'instruction' must be a str, not int"),
        ({"instruction": "a", "input": None, "output": "b"}, ":1: field 'input' must be a str"),
        (seed_task("  ", ("", "b")), ":1: field 'instruction' is empty"),
        ({"instruction": "a", "instances": "b"}, ":1: field 'instances' must be a list"),
        ({"instruction": "a", "instances": []}, ":1: field 'instances' is empty"),
        ({"instances": [{"input": "", "output": "b"}]}, ":1: missing field 'instruction'"),
        ({"instruction": "a", "instances": ["b"]}, ":1: instances[0]: must be an object, not str"),
        (seed_task("a", ("", "b"), ("", " ")), ":1: instances[1]: field 'output' is empty"),
        (seed_task("a", ("", "b"), (1, "c")), ":1: instances[1]: field 'input' must be a str"),
        (
            {"instruction": "a", "instances": [{"output": "b"}]},
            ":1: instances[0]: missing field 'input'",
        ),
        (
            {"instruction": "a", "instances": [{"input": "", "output": ["b"]}]},
            ":1: instances[0]: field 'output' must be a str, not list",
        ),
        ({"messages": {"role": "user"}}, ":1: field 'messages' must be a list"),
        ({"messages": []}, ":1: no user message followed by an assistant message"),
        (chat(("assistant", "a"), ("user", "b")), ":1: no user message followed by an assistant"),
        (chat(("user", "a"), ("assistant", 5)), ":1: messages[1]: field 'content' must be a str"),
        (chat(("system", None)), ":1: messages[0]: field 'content' must be a str, not NoneType"),
        (chat(("user", "a"), ("bot", "b")), ":1: messages[1]: unknown role 'bot'; expected"),
        (chat(("usr", "a")), ":1: messages[0]: unknown role 'usr'; expected 'system', 'user' or"),
        ({"messages": [{"content": "a"}]}, ":1: messages[0]: missing field 'role'"),
        ({"messages": ["hi"]}, ":1: messages[0]: must be an object, not str"),
        (chat(("user", " "), ("assistant", "b")), ":1: messages[0]: field 'content' is empty"),
        (chat(("user", "a"), ("assistant", "")), ":1: messages[1]: field 'content' is empty"),
    ],
)
def test_a_bad_row_names_the_file_line_and_field(tmp_path, row, expected):
    path = tmp_path / "d.jsonl"
    assert error(path, row).startswith(f"{path}{expected}")


def test_an_unknown_role_suggests_the_nearest(tmp_path):
    assert "did you mean 'user'?" in error(tmp_path / "d.jsonl", chat(("usr", "a")))


def test_a_bad_row_after_good_ones_names_its_own_line(tmp_path):
    good = {"instruction": "a", "output": "b"}
    path = tmp_path / "d.jsonl"
    assert error(path, good, good, {"instruction": "a", "output": ""}).startswith(f"{path}:3:")


# --- held-out tasks ----------------------------------------------------------------------


@pytest.fixture
def three_tasks(tmp_path) -> list[InstructionPair]:
    """Task 1 with one instance, task 2 with three, task 3 with two."""
    path = write_rows(
        tmp_path / "seed.jsonl",
        seed_task("One.", ("", "a")),
        seed_task("Two.", ("x", "b"), ("y", "c"), ("z", "d")),
        seed_task("Three.", ("x", "e"), ("y", "f")),
    )
    return read_instruction_pairs(path)


def test_the_task_of_a_pair_is_its_id_up_to_the_second_colon(three_tasks):
    assert [task_of(p) for p in three_tasks] == ["seed:1"] + ["seed:2"] * 3 + ["seed:3"] * 2


def test_holdout_takes_the_last_tasks_with_all_their_instances(three_tasks):
    train, held = split_holdout(three_tasks, 1)
    assert [p.output for p in train] == ["a", "b", "c", "d"]
    assert [p.output for p in held] == ["e", "f"]
    train, held = split_holdout(three_tasks, 2)
    assert [p.output for p in train] == ["a"]
    assert [p.output for p in held] == ["b", "c", "d", "e", "f"]


def test_holdout_zero_holds_out_nothing_and_all_tasks_leave_no_training(three_tasks):
    assert split_holdout(three_tasks, 0) == (three_tasks, [])
    assert split_holdout(three_tasks, 3) == ([], three_tasks)


def test_holdout_by_pair_ignores_tasks(three_tasks):
    train, held = split_holdout(three_tasks, 3, by_task=False)
    assert [p.output for p in train] == ["a", "b", "c"]
    assert [p.output for p in held] == ["d", "e", "f"]


def test_holding_out_more_tasks_than_there_are_is_an_error(three_tasks):
    with pytest.raises(CookbookError, match="holdout 4 is more than the 3 tasks"):
        split_holdout(three_tasks, 4)
    with pytest.raises(CookbookError, match="holdout 7 is more than the 6 pairs"):
        split_holdout(three_tasks, 7, by_task=False)


@pytest.mark.parametrize("holdout", [-1, 1.5, True, "2"])
def test_a_bad_holdout_is_an_error(three_tasks, holdout):
    with pytest.raises(CookbookError, match="holdout must be a whole number"):
        split_holdout(three_tasks, holdout)
