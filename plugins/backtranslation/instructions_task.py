"""The ``instructions`` task: (instruction, reference output) pairs, scored without a judge
model by ROUGE-L F of the greedy answer against the reference (Google's ``rouge-score``), and
by the mean per-token log-likelihood of the reference (``reference_loglik``).

It reads the same files as the ``instructions`` step (Self-Instruct seed tasks, Alpaca-style
or chat-messages JSONL); ``part: heldout`` evaluates the tasks that step holds out (the last
``holdout``), so a model is never scored on what it was trained on. Each instruction is
tagged as the seed data were (the paper's inference-time tag). No template describes
natural-language instructions, so the task has no alignment column.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal

from cookbook import CookbookError, Param, Params, Task, TaskRecord, check_outputs
from cookbook_plugins.backtranslation.instruction_files import (
    read_instruction_pairs,
    split_holdout,
)
from cookbook_plugins.backtranslation.steps import SEED_TAG, tagged


def rouge_l(outputs: Sequence[str], references: Sequence[str]) -> list[float]:
    """ROUGE-L F of each output against its reference, 0-1 (``rouge-score``, stemmed)."""
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise CookbookError(
            "task 'instructions' needs rouge-score: pip install 'cookbook-llm[instructions]'"
        ) from None
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [
        scorer.score(reference, output)["rougeL"].fmeasure
        for output, reference in zip(outputs, references, strict=True)
    ]


class InstructionsTask(Task):
    """Instruction following on (instruction, output) pairs, by ROUGE-L against the output."""

    name = "instructions"
    template = None
    mode = "generate"
    main_metric = "rouge_l"
    max_new_tokens = 128
    reference_loglik = True
    description = "Instruction JSONL (seed tasks, Alpaca, chat); ROUGE-L of answers."

    def read(
        self,
        path: str,
        split: str | None = None,
        *,
        part: Annotated[
            Literal["heldout", "all"],
            Param("heldout: the last `holdout` tasks only (never trained on); all: every pair."),
        ] = "heldout",
        holdout: Annotated[int, Param("How many tasks the training held out.", minimum=1)] = 50,
        tag: Annotated[
            str | None, Param("A line put before each instruction; null: none.")
        ] = SEED_TAG,
    ) -> Iterator[TaskRecord]:
        """Records of the instruction file at ``path``."""
        pairs = read_instruction_pairs(path)
        if part == "heldout":
            _, pairs = split_holdout(pairs, holdout)
        for pair in pairs:
            yield TaskRecord(
                id=pair.id,
                slots={"instruction": pair.instruction},
                answers=[pair.output],
                prompt=tagged(tag, pair.instruction),
                meta={"source": pair.source},
            )

    def metric(self, records: Sequence[TaskRecord], outputs: Sequence[Any]) -> dict[str, float]:
        """``rouge_l``: mean ROUGE-L F (0-100) of the answers against the references."""
        check_outputs(self.name, list(records), list(outputs))
        if not records:
            return {"rouge_l": 0.0}
        scores = rouge_l([str(o) for o in outputs], [r.answers[0] for r in records])
        return {"rouge_l": 100 * sum(scores) / len(scores)}

    params = Params.of(read)


instructions_task = InstructionsTask()
