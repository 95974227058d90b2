"""The ``squad`` task: extractive QA in SQuAD v1.1 JSON, mapped into ``document_qa``.

Each question becomes a record with the paragraph as ``document`` and the question as
``question``; its answer texts are the gold answers. Questions without answers (SQuAD v2's
unanswerable ones) are skipped. The metric is the official SQuAD v1.1 EM and F1 (0-100),
best over the gold answers.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from cookbook import (
    UNSET,
    CookbookError,
    Params,
    PromptFormat,
    Task,
    TaskRecord,
    check_outputs,
    data_file,
    read_json,
)
from cookbook_plugins.qa.document_qa import document_qa

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """The official SQuAD normalisation: lower case, no punctuation, articles or extra spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised texts are equal."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    """The official SQuAD token F1 of two texts."""
    predicted, reference = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(predicted) & Counter(reference)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(reference)
    return 2 * precision * recall / (precision + recall)


class SquadTask(Task):
    """Extractive QA over SQuAD v1.1 JSON files."""

    name = "squad"
    template = "document_qa"
    mode = "generate"
    main_metric = "f1"
    description = "Extractive QA in SQuAD v1.1 JSON (data[].paragraphs[].qas[]); EM and F1."

    def read(
        self,
        path: str,
        split: str | None = None,
        *,
        prompt: PromptFormat = UNSET,
    ) -> Iterator[TaskRecord]:
        """Records of the SQuAD file at ``path`` (or the one in that folder matching ``split``)."""
        file = data_file(self.name, path, split, ".json")
        document = read_json(file)
        params = {} if prompt is UNSET else {"prompt": prompt}
        articles = _items(document, "data", f"{file}: top level")
        for a, article in enumerate(articles):
            for p, paragraph in enumerate(_items(article, "paragraphs", f"{file}: data[{a}]")):
                where = f"{file}: data[{a}].paragraphs[{p}]"
                context = _text(paragraph, "context", where)
                for q, qa in enumerate(_items(paragraph, "qas", where)):
                    at = f"{where}.qas[{q}]"
                    answers = [
                        _text(answer, "text", f"{at}.answers[{i}]")
                        for i, answer in enumerate(_items(qa, "answers", at, required=False))
                    ]
                    if not answers:
                        continue
                    slots = {"document": context, "question": _text(qa, "question", at)}
                    yield TaskRecord(
                        id=str(qa.get("id", f"{a}-{p}-{q}")),
                        slots=slots,
                        answers=answers,
                        prompt=document_qa.render({**slots, "answer": answers[0]}, params)[0],
                    )

    def metric(self, records: Sequence[TaskRecord], outputs: Sequence[Any]) -> dict[str, float]:
        """``em`` and ``f1`` (0-100), each the best over a record's gold answers."""
        check_outputs(self.name, list(records), list(outputs))
        if not records:
            return {"em": 0.0, "f1": 0.0}
        em_total = f1_total = 0.0
        for record, output in zip(records, outputs, strict=True):
            em_total += max(exact_match(str(output), gold) for gold in record.answers)
            f1_total += max(f1(str(output), gold) for gold in record.answers)
        return {"em": 100 * em_total / len(records), "f1": 100 * f1_total / len(records)}

    params = Params.of(read)


def _items(node: Any, key: str, where: str, required: bool = True) -> list[Any]:
    if not isinstance(node, dict):
        raise CookbookError(f"{where}: expected a JSON object")
    if key not in node and not required:
        return []
    value = node.get(key)
    if not isinstance(value, list):
        raise CookbookError(f"{where}: {key!r} must be a list")
    return value


def _text(node: Any, key: str, where: str) -> str:
    if not isinstance(node, dict) or not isinstance(node.get(key), str):
        raise CookbookError(f"{where}: {key!r} must be a string")
    return node[key]


squad = SquadTask()
