"""The ``multiple_choice`` task and one task per dataset of the GPT4ALL suite (``arc_easy``,
``arc_challenge``, ``boolq``, ``piqa``, ``openbookqa``, ``copa``, ``hellaswag``,
``winogrande``), scored by log-likelihood.

By default (``format: lm-eval``) each record is scored as lm-evaluation-harness scores that
dataset: its own prompt as plain text, each choice a continuation after a space, ``acc`` and
``acc_norm`` (log-likelihood per character of the choice); see ``conventions``. The result
names the convention (``format: lm-eval/arc_easy``). ``format: lettered`` is the earlier
form: the ``multiple_choice`` template's prompt with the options lettered A., B., ..., in
the chat template when the model was trained with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal

from cookbook import (
    UNSET,
    CookbookError,
    Param,
    Params,
    PromptFormat,
    Task,
    TaskRecord,
    best_choice,
    check_outputs,
    data_file,
    read_jsonl,
)
from cookbook_plugins.multiple_choice.conventions import (
    DATASETS,
    DELIMITER,
    Question,
    RowError,
    dataset_of,
    question,
)
from cookbook_plugins.multiple_choice.template import multiple_choice

Dataset = Annotated[
    Literal["auto", "generic", *DATASETS],  # type: ignore[valid-type]
    Param(
        "Whose prompt convention to use: auto (from the rows' fields or the file's name),"
        " generic (the query as it is), or a dataset of the suite."
    ),
]
Format = Annotated[
    Literal["lm-eval", "lettered"],
    Param(
        "lm-eval: each dataset's lm-evaluation-harness prompt, plain text; lettered: the"
        " multiple_choice template's prompt with lettered options, as the model was trained."
    ),
]


def _chat(format: str = "lm-eval", **_: Any) -> bool | None:
    """Plain text for the harness's prompts; the lettered form follows the training."""
    return False if format == "lm-eval" else None


class MultipleChoiceTask(Task):
    """Multiple-choice questions, each dataset in lm-evaluation-harness's convention."""

    template = "multiple_choice"
    mode = "choice"
    main_metric = "accuracy"
    chat_template = staticmethod(_chat)

    def __init__(self, name: str = "multiple_choice", dataset: str | None = None) -> None:
        self.name = name
        self.dataset = dataset
        what = dataset or "multiple-choice"
        self.description = (
            f"{what} JSONL (Hugging Face or llm-foundry rows); lm-eval log-likelihood accuracy."
        )
        self.params = Params.of(self.read)
        if dataset is not None:
            self.params = self.params.without(["dataset"])

    def read(
        self,
        path: str,
        split: str | None = None,
        *,
        dataset: Dataset = "auto",
        format: Format = "lm-eval",
        prompt: PromptFormat = UNSET,
    ) -> Iterator[TaskRecord]:
        """Records of the JSONL file at ``path`` (or in that folder the one named ``split``)."""
        file = data_file(self.name, path, split, ".jsonl")
        chosen = self.dataset or (None if dataset == "auto" else dataset)
        for number, row in read_jsonl(file):
            where = f"{file}:{number}"
            name = chosen or dataset_of(row, file.stem)
            chosen = chosen or name
            try:
                asked = question(name, row)
            except RowError as exc:
                raise CookbookError(f"{where}: {exc} (reading it as {name})") from None
            yield self._record(f"{file.stem}-{number}", name, asked, format, prompt)

    def _record(
        self, id: str, dataset: str, asked: Question, format: str, prompt: Any
    ) -> TaskRecord:
        slots = asked.slots
        options = slots["options"]
        answers = [options[asked.gold]]
        contexts = None
        if format == "lettered" or prompt is not UNSET:
            params = {} if prompt is UNSET else {"prompt": prompt}
            text = multiple_choice.render({**slots, "answer": answers[0]}, params)[0]
            shape = "lettered" if prompt is UNSET else "custom prompt"
            choices, norm = [f" {option}" for option in options], [len(o) for o in options]
        elif asked.contexts is not None:  # partial evaluation: one context per option
            shape, text, contexts = "lm-eval", asked.contexts[asked.gold], list(asked.contexts)
            choices = [DELIMITER + asked.continuation] * len(contexts)
            norm = [len(c) for c in contexts]
        else:
            shape, text = "lm-eval", asked.context
            choices = [DELIMITER + choice for choice in asked.choices]
            norm = [len(c) for c in asked.choices]
        return TaskRecord(
            id=id,
            slots=slots,
            answers=answers,
            prompt=text,
            choices=choices,
            gold=asked.gold,
            contexts=contexts,
            choice_labels=list(options),
            meta={"format": f"{shape}/{dataset}", "norm": norm},
        )

    def metric(self, records: Sequence[TaskRecord], outputs: Sequence[Any]) -> dict[str, float]:
        """``accuracy`` (the highest summed log-probability: the harness's ``acc``) and
        ``accuracy_norm`` (per character of the choice string: ``acc_norm``); ``outputs[i]``
        holds one number per choice of record i."""
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
            lengths = record.meta.get("norm") or [len(c.removeprefix(" ")) for c in choices]
            per_char = [s / max(1, n) for s, n in zip(scores, lengths, strict=True)]
            right += best_choice(scores) == record.gold
            right_norm += best_choice(per_char) == record.gold
        return {
            "accuracy": 100 * right / len(records),
            "accuracy_norm": 100 * right_norm / len(records),
        }


multiple_choice_task = MultipleChoiceTask()
dataset_tasks = [MultipleChoiceTask(name, name) for name in DATASETS]
