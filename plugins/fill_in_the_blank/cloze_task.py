"""The ``cloze`` task: last-word prediction in JSONL ``{"context", "continuation"}`` (LAMBADA).

The context is the ``fill_in_the_blank`` template's ``context`` slot as it is (the blank is
the word after it) and the prompt is the context itself, so the model completes the last
word. The metric is the share of records whose first generated word equals the continuation
after normalisation (case, punctuation, simple stemming). The passage is given as plain text,
not in a chat template: this is language modelling, and an instruct model in its chat
template replies to a passage instead of continuing it (``chat_template`` overrides it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from cookbook import (
    UNSET,
    Params,
    PromptFormat,
    Task,
    TaskRecord,
    check_outputs,
    data_file,
    normalize_tokens,
    read_jsonl,
    require_field,
)
from cookbook_plugins.fill_in_the_blank.template import fill_in_the_blank


def word_key(text: str) -> list[str]:
    """The first word of ``text``, lower-cased and split at punctuation ('a' is a word too)."""
    words = text.split()
    if not words:
        return []
    return normalize_tokens(words[0], articles=False, stemming=False) or [words[0].lower()]


class ClozeTask(Task):
    """Predict the word that ends a passage."""

    name = "cloze"
    template = "fill_in_the_blank"
    mode = "generate"
    main_metric = "accuracy"
    description = 'Last-word prediction JSONL {"context", "continuation"} (LAMBADA); accuracy.'
    chat_template = False  # a passage is continued, not answered

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
            slots = {"context": require_field(row, "context", str, where)}
            answer = require_field(row, "continuation", str, where).strip()
            yield TaskRecord(
                id=f"{file.stem}-{number}",
                slots=slots,
                answers=[answer],
                prompt=fill_in_the_blank.render({**slots, "answer": answer}, params)[0],
            )

    def metric(self, records: Sequence[TaskRecord], outputs: Sequence[Any]) -> dict[str, float]:
        """``accuracy`` (0-100): the first generated word equals the continuation word."""
        check_outputs(self.name, list(records), list(outputs))
        if not records:
            return {"accuracy": 0.0}
        right = 0
        for record, output in zip(records, outputs, strict=True):
            predicted = word_key(str(output))
            right += bool(predicted) and any(predicted == word_key(a) for a in record.answers)
        return {"accuracy": 100 * right / len(records)}

    params = Params.of(read)


cloze = ClozeTask()
