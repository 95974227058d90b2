"""The ``multiple_choice`` task: JSONL ``{"query", "choices", "gold"}``, scored by log-likelihood.

The query is mapped into the ``multiple_choice`` template's slots: a leading
``Passage: ...`` block (BoolQ) becomes the ``context``; the rest, without ``Question:`` and a
trailing ``Answer:``, is the ``question`` (ARC, PIQA, OpenBookQA, COPA have no context). The
choices are the ``options``; the prompt lists them the way the template does, and each
choice is scored as the completion ``" " + choice``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from cookbook import (
    UNSET,
    CookbookError,
    Params,
    PromptFormat,
    Task,
    TaskRecord,
    best_choice,
    check_outputs,
    data_file,
    read_jsonl,
    require_field,
)
from cookbook_plugins.multiple_choice.template import multiple_choice

_CONTEXT = re.compile(r"^\s*(?:[A-Z][a-z]+:)?\s*(.*?)\n+\s*Question:\s*(.*)$", re.S)
_QUESTION = re.compile(r"^\s*Question:\s*", re.I)
_ANSWER = re.compile(r"\s*Answer:\s*$", re.I)


def query_slots(query: str) -> dict[str, str]:
    """``context`` and ``question`` of a query that may carry "Passage:/Question:/Answer:"."""
    query = _ANSWER.sub("", query)
    framed = _CONTEXT.match(query)
    if framed:
        return {"context": framed.group(1).strip(), "question": framed.group(2).strip()}
    return {"context": "", "question": _QUESTION.sub("", query).strip()}


class MultipleChoiceTask(Task):
    """Multiple-choice questions in the llm-foundry / lm-eval JSONL shape."""

    name = "multiple_choice"
    template = "multiple_choice"
    mode = "choice"
    main_metric = "accuracy"
    description = 'Multiple choice JSONL {"query", "choices", "gold"}; log-likelihood accuracy.'

    def read(
        self,
        path: str,
        split: str | None = None,
        *,
        prompt: PromptFormat = UNSET,
    ) -> Iterator[TaskRecord]:
        """Records of the JSONL file at ``path`` (or in that folder the one named ``split``)."""
        file = data_file(self.name, path, split, ".jsonl")
        params = {} if prompt is UNSET else {"prompt": prompt}
        for number, row in read_jsonl(file):
            where = f"{file}:{number}"
            query = require_field(row, "query", str, where)
            choices = require_field(row, "choices", list, where)
            gold = require_field(row, "gold", int, where)
            if len(choices) < 2 or not all(isinstance(c, str) for c in choices):
                raise CookbookError(f"{where}: 'choices' must be a list of two or more strings")
            if not 0 <= gold < len(choices):
                raise CookbookError(f"{where}: 'gold' {gold} is not an index into 'choices'")
            slots = {**query_slots(query), "options": choices}
            yield TaskRecord(
                id=f"{file.stem}-{number}",
                slots=slots,
                answers=[choices[gold]],
                prompt=multiple_choice.render({**slots, "answer": choices[gold]}, params)[0],
                choices=[f" {choice}" for choice in choices],
                gold=gold,
            )

    def metric(self, records: Sequence[TaskRecord], outputs: Sequence[Any]) -> dict[str, float]:
        """``accuracy`` (highest summed log-probability) and ``accuracy_norm`` (per character
        of the choice, as lm-eval-harness's acc_norm); ``outputs[i]`` holds one number per
        choice of record i."""
        check_outputs(self.name, list(records), list(outputs))
        if not records:
            return {"accuracy": 0.0, "accuracy_norm": 0.0}
        right = right_norm = 0
        for record, scores in zip(records, outputs, strict=True):
            choices = record.choices or []
            if not isinstance(scores, list | tuple) or len(scores) != len(choices):
                raise CookbookError(
                    f"task {self.name!r}: record {record.id}: expected {len(choices)}"
                    " log-probabilities, one per choice"
                )
            lengths = [max(1, len(c.removeprefix(" "))) for c in choices]
            right += best_choice(scores) == record.gold
            right_norm += best_choice([s / n for s, n in zip(scores, lengths, strict=True)]) == (
                record.gold
            )
        return {
            "accuracy": 100 * right / len(records),
            "accuracy_norm": 100 * right_norm / len(records),
        }

    params = Params.of(read)


multiple_choice_task = MultipleChoiceTask()
