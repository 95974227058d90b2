"""The files of a new plugin package, as text with ``__NAME__``-style marks filled in by
``scaffold``: the pyproject, an example component of each kind, its test, the README."""

from __future__ import annotations

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "__DISTRIBUTION__"
version = "0.1.0"
description = "__SUMMARY__"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["cookbook-llm"]

[project.entry-points.cookbook]
__NAME__ = "__MODULE__"

[tool.setuptools]
packages = ["__MODULE__"]

[tool.setuptools.package-data]
# artifacts the component reads (word lists, dictionaries) travel with the package
__MODULE__ = ["*.json", "*.txt", "*.yaml", "*.yml", "*.csv", "*.tsv"]

[tool.ruff]
line-length = 100
"""

TEMPLATE_MODULE = '''\
"""A Cookbook template, __NAME__: random words, and the answer is those words in reverse order.

Change the generator (the input slots over random tokens), the rule (the answer computed from
the inputs) and the prompt to your task's rule; ``cookbook check-template`` checks it.
"""

from typing import Annotated

from cookbook import Param, hookimpl, template


def __NAME___rule(slots):
    """The answer: the input words in reverse order."""
    return " ".join(reversed(slots["words"].split()))


@template(family="search", prompt="Reverse the words: {words}\\nAnswer:", rule=__NAME___rule)
def __NAME__(
    rng,
    tokens,
    length: Annotated[int, Param("Words in the input.", minimum=1, maximum=100)] = 4,
):
    """Random words; the answer is the words in reverse order."""
    return {"words": tokens.text(rng, length)}


@hookimpl
def register_templates(register):
    register(__NAME__)
'''

TEMPLATE_TEST = '''\
"""The package's templates pass Cookbook's check (run in a sandboxed subprocess) and, once the
package is installed, are registered."""

from pathlib import Path

from cookbook import get_registry
from cookbook.engine import check_template

MODULE = "__MODULE__"
CHECKED = Path(__file__).resolve().parents[1] / MODULE / "__CHECKED__"


def test_the_check_accepts_the_templates():
    report = check_template(CHECKED)
    assert report.accepted, report.text()
    assert report.templates
    registry = get_registry()
    for name in report.templates:
        assert registry.get("templates", name).name == name
'''

SPEC_MODULE = '''\
"""A Cookbook template from a declarative spec, ``spec.yaml``: Cookbook builds its generator and
scorer from trusted primitives; nothing in the spec runs as code."""

from pathlib import Path

from cookbook import hookimpl, template_from_spec

SPEC = Path(__file__).with_name("spec.yaml")


@hookimpl
def register_templates(register):
    register(template_from_spec(SPEC))
'''

#: Appended to a written module that registers nothing itself.
REGISTER_ALL = """

# Added by cookbook write-template: register the module's templates as a plugin.
from cookbook import Template as _Template  # noqa: E402
from cookbook import hookimpl as _hookimpl  # noqa: E402


@_hookimpl
def register_templates(register):
    for _value in list(globals().values()):
        if isinstance(_value, _Template):
            register(_value)
"""

TASK_MODULE = '''\
"""A Cookbook task, __NAME__: JSON lines {"document", "question", "answer"} read into the
``document_qa`` template's slots, scored by exact match.

Change ``read`` to your data's fields and the template whose rule describes your task, and
``metric`` to your task's measure.
"""

from pathlib import Path

from cookbook import Params, TaskRecord, get_registry, hookimpl, read_jsonl, require_field


def normalized(text):
    return " ".join(str(text).lower().split())


class __CLASS__:
    """Question answering over JSON lines, scored by exact match."""

    name = "__NAME__"
    template = "document_qa"
    main_metric = "exact_match"
    higher_is_better = True
    mode = "generate"
    stop = "\\n"
    description = "Question answering over JSON lines, scored by exact match."

    def read(self, path, split=None, *, prefix: str = ""):
        template = get_registry().get("templates", self.template)
        for number, row in read_jsonl(Path(path)):
            where = f"{path}:{number}"
            slots = {
                "document": require_field(row, "document", str, where),
                "question": require_field(row, "question", str, where),
            }
            answer = require_field(row, "answer", str, where)
            prompt = template.render({**slots, "answer": answer}, {})[0]
            yield TaskRecord(f"__NAME__-{number}", slots, [answer], prompt=prefix + prompt)

    params = Params.of(read)

    def metric(self, records, outputs):
        hits = [
            normalized(output) == normalized(record.answers[0])
            for record, output in zip(records, outputs, strict=True)
        ]
        return {"exact_match": 100 * sum(hits) / max(1, len(hits))}


@hookimpl
def register_tasks(register):
    register(__CLASS__())
'''

TASK_TEST = '''\
"""The task reads its records and scores the gold answers 100 and wrong ones 0."""

import json

from cookbook import get_registry

ROWS = [
    {"document": "the cat sat on the mat", "question": "where did the cat sit", "answer": "mat"},
    {"document": "rain fell all day", "question": "what fell", "answer": "rain"},
]


def test_the_task_reads_and_scores(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(row) + "\\n" for row in ROWS))
    task = get_registry().get("tasks", "__NAME__")
    records = list(task.read(str(path)))
    assert [r.answers for r in records] == [["mat"], ["rain"]]
    assert task.metric(records, ["mat", "rain"])[task.main_metric] == 100
    assert task.metric(records, ["dog", "snow"])[task.main_metric] == 0
'''

SCORER_MODULE = '''\
"""A Cookbook scorer, __NAME__, for the ``document_qa`` template: the share of the answer's
tokens found anywhere in the document.

Change ``score`` to your measure of whether an output follows the template's rule, and
``template`` to the template it scores.
"""

from cookbook import Scorer, hookimpl, normalize_tokens


def in_document(slots, output) -> float:
    """Share of the output's tokens found anywhere in the document."""
    tokens = normalize_tokens(str(output))
    if not tokens:
        return 0.0
    document = set(normalize_tokens(slots["document"]))
    return sum(t in document for t in tokens) / len(tokens)


__NAME__ = Scorer(
    name="__NAME__",
    template="document_qa",
    score=in_document,
    description="Share of the answer's tokens found anywhere in the document.",
)


@hookimpl
def register_scorers(register):
    register(__NAME__)
'''

SCORER_TEST = '''\
"""The scorer gives a template sample's own answer 1 and an unrelated one 0."""

from cookbook import get_registry
from cookbook.engine import SampleMaker, resolve_token_space


def test_the_scorer_scores_a_sample():
    registry = get_registry()
    scorer = registry.get("scorers", "__NAME__")
    template = registry.get("templates", scorer.template)
    params = template.resolve()
    maker = SampleMaker(template, template.name, params, 0, resolve_token_space("pseudowords"))
    slots = maker.record(0)["slots"]
    assert scorer.score(slots, slots[template.output]) == 1.0
    assert scorer.score(slots, "zzzzzz") == 0.0
'''

README = """\
# __DISTRIBUTION__

__SUMMARY__

```bash
pip install .
cookbook list-plugins
__USAGE__
pip install pytest && pytest tests
```
"""

USAGE = {
    "template": "cookbook preview __NAME__\ncookbook check-template __MODULE__/__CHECKED__",
    "task": "cookbook score document_qa --task __NAME__ --data data.jsonl",
    "scorer": "cookbook score document_qa --data samples.jsonl --scorer __NAME__",
}
