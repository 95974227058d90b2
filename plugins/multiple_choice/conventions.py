"""lm-evaluation-harness's prompt for each choice task of the GPT4ALL suite, from any of the
row shapes users have: the Hugging Face datasets' rows (what the harness reads), the harness's
processed HellaSwag rows, and llm-foundry's local JSONL (``{"query", "choices", "gold"}``,
and ``{"context_options", "continuation", "gold"}`` for WinoGrande).

Each reader returns a ``Question``: the context the harness writes (``doc_to_text``), the
choice strings (``doc_to_choice``, scored as continuations after the target delimiter
``" "``), the gold index, and the slots of the ``multiple_choice`` template. WinoGrande is
scored the harness's "partial" way: one context per option (the sentence up to the blank,
with the option), the same continuation (the rest of the sentence) after each.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: lm-evaluation-harness's default ``target_delimiter``: put between context and choice.
DELIMITER = " "
#: The datasets with a convention of their own; ``generic`` takes the query as it is.
DATASETS = (
    "arc_easy",
    "arc_challenge",
    "boolq",
    "piqa",
    "openbookqa",
    "copa",
    "hellaswag",
    "winogrande",
)
_CONNECTIVES = {"cause": "because", "effect": "therefore"}
_QUESTION = re.compile(r"^\s*Question:\s*", re.I)
_ANSWER = re.compile(r"\s*Answer:\s*$", re.I)
_CONTEXT = re.compile(r"^\s*(?:[A-Z][a-z]+:)?\s*(.*?)\n+\s*Question:\s*(.*)$", re.S)


@dataclass
class Question:
    """One record as the harness scores it, with the template's slots."""

    context: str
    choices: list[str]
    gold: int
    slots: dict[str, Any]
    contexts: list[str] | None = None
    continuation: str = ""


class RowError(ValueError):
    """A row that does not have the fields its shape needs."""


def query_slots(query: str) -> dict[str, str]:
    """``context`` and ``question`` of a query that may carry "Passage:/Question:/Answer:"."""
    query = _ANSWER.sub("", query)
    framed = _CONTEXT.match(query)
    if framed:
        return {"context": framed.group(1).strip(), "question": framed.group(2).strip()}
    return {"context": "", "question": _QUESTION.sub("", query).strip()}


def dataset_of(row: Mapping[str, Any], file_stem: str) -> str:
    """The dataset a row belongs to: by its fields where they say, else by the file's name,
    else ``generic``."""
    if "question_stem" in row:
        return "openbookqa"
    if "goal" in row and "sol1" in row:
        return "piqa"
    if "passage" in row:
        return "boolq"
    if "premise" in row:
        return "copa"
    if "ctx_a" in row or "endings" in row:
        return "hellaswag"
    if "option1" in row or "context_options" in row:
        return "winogrande"
    words = re.split(r"[^a-z]+", file_stem.lower())
    joined = "".join(words)
    for name, keys in _STEMS:
        if any(key in joined for key in keys):
            return name
    if "arc" in words:
        return "arc_challenge" if "challenge" in words else "arc_easy"
    if "answerKey" in row:
        return "arc_easy"
    return "generic"


_STEMS = (
    ("arc_challenge", ("arcchallenge",)),
    ("arc_easy", ("arceasy",)),
    ("openbookqa", ("openbook", "obqa")),
    ("boolq", ("boolq",)),
    ("piqa", ("piqa",)),
    ("copa", ("copa",)),
    ("hellaswag", ("hellaswag",)),
    ("winogrande", ("winogrande",)),
)


def question(dataset: str, row: Mapping[str, Any]) -> Question:
    """``row`` of ``dataset`` as the harness scores it; a missing field raises ``RowError``."""
    if "context_options" in row:
        return _schema(row)
    if "query" in row and "choices" in row:
        return _foundry(dataset, row)
    reader = _HF.get(dataset)
    if reader is None:
        raise RowError(
            'expected {"query", "choices", "gold"} (llm-foundry) or the fields of a'
            f" {', '.join(_HF)} row"
        )
    return reader(row)


def _field(row: Mapping[str, Any], name: str, kind: type | tuple[type, ...] = str) -> Any:
    if name not in row:
        raise RowError(f"missing field {name!r}")
    value = row[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        raise RowError(f"field {name!r} must be {' or '.join(k.__name__ for k in kinds)}")
    return value


def _strings(row: Mapping[str, Any], name: str) -> list[str]:
    value = _field(row, name, list)
    if len(value) < 2 or not all(isinstance(v, str) for v in value):
        raise RowError(f"field {name!r} must be a list of two or more strings")
    return list(value)


def _index(value: Any, count: int, name: str) -> int:
    try:
        index = int(value)
    except (TypeError, ValueError):
        raise RowError(f"field {name!r} must be an index, not {value!r}") from None
    if isinstance(value, float) and value != index or not 0 <= index < count:
        raise RowError(f"field {name!r} {value!r} is not an index into the {count} choices")
    return index


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _foundry(dataset: str, row: Mapping[str, Any]) -> Question:
    """llm-foundry's ``{"query", "choices", "gold"}`` in the harness's prompt for ``dataset``."""
    query = _field(row, "query")
    choices = _strings(row, "choices")
    gold = _index(_field(row, "gold", int), len(choices), "gold")
    slots = {**query_slots(query), "options": choices}
    if dataset in ("arc_easy", "arc_challenge", "piqa"):
        text = _QUESTION.sub("", query, count=1).removesuffix("\n")
        context = f"Question: {text}\nAnswer:"
    elif dataset == "boolq":
        passage, _, asked = query.removeprefix("Passage: ").rpartition("\nQuestion: ")
        asked = asked.strip()
        context = f"{passage}\nQuestion: {asked if asked.endswith('?') else asked + '?'}\nAnswer:"
    elif dataset == "copa":
        head, comma, connective = query.rstrip().rpartition(", ")
        if comma and connective in _CONNECTIVES.values():
            query = f"{head} {connective}"
        context = query
        choices = [" " + _lower_first(c) for c in choices]
    elif dataset == "hellaswag":
        context = preprocess_hellaswag(query)
        choices = [preprocess_hellaswag(c) for c in choices]
    else:  # openbookqa: the stem as it is; generic: the query as it is
        context = query
    return Question(context, choices, gold, slots)


def _schema(row: Mapping[str, Any]) -> Question:
    """llm-foundry's WinoGrande form: the option-filled contexts and the shared continuation."""
    contexts = _strings(row, "context_options")
    continuation = _field(row, "continuation").strip()
    gold = _index(_field(row, "gold", int), len(contexts), "gold")
    shared = os.path.commonprefix(contexts)
    cut = shared.rfind(" ") + 1 if " " in shared else 0
    options = [c[cut:] for c in contexts]
    sentence = f"{shared[:cut]}_ {continuation}"
    slots = {"context": "", "question": sentence, "options": options}
    return Question("", contexts, gold, slots, contexts=contexts, continuation=continuation)


def _choice_texts(row: Mapping[str, Any]) -> tuple[list[str], int]:
    choices = _field(row, "choices", dict)
    texts, labels = choices.get("text"), choices.get("label")
    if not isinstance(texts, list) or not isinstance(labels, list) or len(texts) != len(labels):
        raise RowError("field 'choices' must hold lists 'text' and 'label' of one length")
    key = str(_field(row, "answerKey", (str, int))).strip()
    if str(key) not in [str(label) for label in labels]:
        raise RowError(f"answerKey {key!r} is not one of the labels {labels}")
    return [str(t) for t in texts], [str(label) for label in labels].index(str(key))


def _arc(row: Mapping[str, Any]) -> Question:
    asked = _field(row, "question")
    texts, gold = _choice_texts(row)
    slots = {"context": "", "question": asked, "options": texts}
    return Question(f"Question: {asked}\nAnswer:", texts, gold, slots)


def _openbookqa(row: Mapping[str, Any]) -> Question:
    stem = _field(row, "question_stem")
    texts, gold = _choice_texts(row)
    return Question(stem, texts, gold, {"context": "", "question": stem, "options": texts})


def _piqa(row: Mapping[str, Any]) -> Question:
    goal = _field(row, "goal")
    texts = [_field(row, "sol1"), _field(row, "sol2")]
    gold = _index(_field(row, "label", int), 2, "label")
    slots = {"context": "", "question": goal, "options": texts}
    return Question(f"Question: {goal}\nAnswer:", texts, gold, slots)


def _boolq(row: Mapping[str, Any]) -> Question:
    passage, asked = _field(row, "passage"), _field(row, "question")
    if "label" in row:
        gold = _index(_field(row, "label", int), 2, "label")
    else:
        gold = int(_field(row, "answer", bool))
    choices = ["no", "yes"]
    slots = {"context": passage, "question": asked, "options": choices}
    return Question(f"{passage}\nQuestion: {asked}?\nAnswer:", choices, gold, slots)


def _copa(row: Mapping[str, Any]) -> Question:
    premise = _field(row, "premise")
    kind = _field(row, "question")
    if kind not in _CONNECTIVES:
        raise RowError(f"field 'question' must be 'cause' or 'effect', not {kind!r}")
    options = [_field(row, "choice1"), _field(row, "choice2")]
    gold = _index(_field(row, "label", int), 2, "label")
    context = premise.strip()[:-1] + f" {_CONNECTIVES[kind]}"
    slots = {"context": "", "question": context, "options": options}
    return Question(context, [" " + _lower_first(c) for c in options], gold, slots)


def preprocess_hellaswag(text: str) -> str:
    """The harness's cleaning of HellaSwag text (WikiHow's bracketed artifacts removed)."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def _hellaswag(row: Mapping[str, Any]) -> Question:
    ctx = _field(row, "ctx_a") + " " + _field(row, "ctx_b").capitalize()
    context = preprocess_hellaswag(_field(row, "activity_label") + ": " + ctx)
    endings = [preprocess_hellaswag(e) for e in _strings(row, "endings")]
    gold = _index(_field(row, "label", (str, int)), len(endings), "label")
    slots = {"context": "", "question": context, "options": endings}
    return Question(context, endings, gold, slots)


def _winogrande(row: Mapping[str, Any]) -> Question:
    sentence = _field(row, "sentence")
    if "_" not in sentence:
        raise RowError("field 'sentence' has no blank '_'")
    blank = sentence.index("_")
    options = [_field(row, "option1"), _field(row, "option2")]
    answer = _field(row, "answer", (str, int))
    if str(answer) not in ("1", "2"):
        raise RowError(f"field 'answer' must be '1' or '2', not {answer!r}")
    contexts = [sentence[:blank] + option for option in options]
    continuation = sentence[blank + 1 :].strip()
    slots = {"context": "", "question": sentence, "options": options}
    return Question(
        "", contexts, int(answer) - 1, slots, contexts=contexts, continuation=continuation
    )


_HF: dict[str, Callable[[Mapping[str, Any]], Question]] = {
    "arc_easy": _arc,
    "arc_challenge": _arc,
    "boolq": _boolq,
    "piqa": _piqa,
    "openbookqa": _openbookqa,
    "copa": _copa,
    "hellaswag": _hellaswag,
    "winogrande": _winogrande,
}
