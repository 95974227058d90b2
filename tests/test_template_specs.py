"""Template specs: validation errors name the file and JSON path; document_qa and
entity_matching as specs make the same samples and scores as their Python versions; a spec
file is usable wherever a template name is."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from cli_helpers import assert_clean, cli

import cookbook
from cookbook import CookbookError, get_registry, load_spec, template_from_spec
from cookbook.engine import SampleMaker, alignment_scores, resolve_token_space
from cookbook.specs.expressions import OPERATORS
from cookbook.specs.loader import spec_schema
from cookbook.specs.scorers import SCORERS
from cookbook.specs.steps import STEP_KINDS

ROOT = Path(__file__).parent.parent
SPECS = ROOT / "examples" / "specs"
FIXTURES = Path(__file__).parent / "fixtures"
TYDIQA = ROOT / "examples" / "data" / "tydiqa_english_dev_100.json"

DOCUMENT_QA_PARAMS = [
    {},
    {"side": "after", "k": 2, "question_noise": 0.3},
    {"side": "before", "min_words": 5, "max_words": 9, "k": 1},
    {"min_question": 1, "max_question": 1, "question_noise": 1.0},
]
ENTITY_MATCHING_PARAMS = [
    {},
    {"threshold": 0.8, "positives": 0.2, "attributes": 5},
    {"hard_negatives": 1.0, "max_value": 12},
    {"positives": 1.0, "threshold": 0.1, "min_value": 3},
]


def tokens():
    return resolve_token_space("pseudowords", get_registry())


def both(name: str):
    """The registered Python template and the spec's."""
    return get_registry().get("templates", name), template_from_spec(SPECS / f"{name}.yaml")


def jsonl(template, name: str, params: dict, n: int, seed: int) -> bytes:
    maker = SampleMaker(template, name, template.resolve(params), seed, tokens())
    return maker.jsonl(0, n)


@pytest.mark.parametrize(
    ("name", "params"),
    [("document_qa", p) for p in DOCUMENT_QA_PARAMS]
    + [("entity_matching", p) for p in ENTITY_MATCHING_PARAMS],
)
def test_a_spec_makes_the_same_bytes_as_the_python_template(name, params):
    python, spec = both(name)
    assert python.generate_batch is not None or name == "entity_matching"
    for seed in (0, 7):
        # the Python template's 150 samples come from its batch generator where it has one
        assert jsonl(spec, name, params, 150, seed) == jsonl(python, name, params, 150, seed)
    assert spec.params.defaults == python.params.defaults
    assert spec.slots == python.slots


def test_the_spec_scores_what_the_python_scorer_scores():
    for name in ("document_qa", "entity_matching"):
        python, spec = both(name)
        maker = SampleMaker(python, name, python.resolve(), 3, tokens())
        records = [maker.record(i) for i in range(60)]
        slots = [{k: v for k, v in r["slots"].items() if k != "answer"} for r in records]
        answers = [r["slots"]["answer"] for r in records]
        outputs = [
            *answers,  # aligned
            *answers[1:],  # another sample's answer
            "Yes",
            "no, they differ",
            "",
            "zzz qqq",
        ]
        many = (slots * 3)[: len(outputs)]
        for params in ({}, {"k": 1} if name == "document_qa" else {"threshold": 0.9}):
            want = alignment_scores(python, many, outputs, params)
            got = alignment_scores(spec, many, outputs, params)
            assert got == want
            assert 0 < sum(want) < len(want)  # the outputs do not all score the same


def test_the_spec_scores_real_task_records_as_the_python_template_does():
    squad = get_registry().get("tasks", "squad")
    deepmatcher = get_registry().get("tasks", "deepmatcher")
    for task, path, name in (
        (squad, TYDIQA, "document_qa"),
        (deepmatcher, FIXTURES / "deepmatcher", "entity_matching"),
    ):
        python, spec = both(name)
        records = list(task.read(str(path)))
        slots, answers = [r.slots for r in records], [r.answers for r in records]
        # the gold answers, and the gold answers of the next record
        outputs = [*answers, *answers[1:], answers[0]]
        want = alignment_scores(python, slots * 2, outputs)
        assert alignment_scores(spec, slots * 2, outputs) == want
        assert len(set(want)) > 1


def bad_spec(tmp_path: Path, change, suffix: str = ".yaml") -> str:
    """The message of the one error a changed copy of the document_qa spec gets."""
    spec = yaml.safe_load((SPECS / "document_qa.yaml").read_text())
    change(spec)
    path = tmp_path / f"bad{suffix}"
    text = json.dumps(spec, indent=1) if suffix == ".json" else yaml.safe_dump(spec)
    path.write_text(text)
    with pytest.raises(CookbookError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message
    return message


def _set(path: list, value):
    def change(spec):
        node = spec
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (
            _set(["famly"], "search"),
            ["(top level)", "unknown key 'famly'", "did you mean 'family'"],
        ),
        (lambda s: s.pop("rule"), ["(top level)", "'rule' is a required property"]),
        (_set(["family"], "magic"), ["family:", "'magic' is not one of"]),
        (
            _set(["draws", 1, "randint", 1], {"maxx": ["$max_words", 1]}),
            ["draws[1].randint[1]", "unknown operator 'maxx'", "did you mean 'max'"],
        ),
        (
            _set(["draws", 2], {"let": "words", "tokens": "$length", "random": True}),
            ["draws[2]", "exactly one operation"],
        ),
        (
            _set(["draws", 3, "randint"], ["$min_question", "$max_qestion"]),
            ["draws[3].randint[1]", "$max_qestion is not defined", "did you mean 'max_question'"],
        ),
        (
            _set(["draws", 5, "randint", "low"], {"if": [True, 0]}),
            ["draws[5].randint.low.if", "'if' takes 3 arguments"],
        ),
        (_set(["params", "k", "default"], 0), ["params.k.default", "minimum of 1"]),
        (_set(["slots", "answer"], "$words"), ["slots.answer", "output slot"]),
        (_set(["rule"], {"join": "$words"}), ["rule.join", "$words is not defined"]),
        (_set(["rule"], {"rule": {"document": "$document"}}), ["rule: the rule cannot use itself"]),
        (_set(["prompt"], "Context: {doc}"), ["prompt", "{doc} is not a slot"]),
        (_set(["scorer", "widow"], 3), ["scorer.widow", "no argument 'widow'"]),
        (_set(["scorer"], "exactly"), ["scorer", "is not valid"]),
    ],
)
def test_a_bad_spec_gets_one_error_naming_the_file_and_json_path(tmp_path, change, fragments):
    message = bad_spec(tmp_path, change)
    for fragment in fragments:
        assert fragment in message, message


def test_yaml_errors_name_the_line_and_json_files_are_checked_too(tmp_path):
    message = bad_spec(tmp_path, _set(["draws", 0, "value"], {"nope": 1}))
    assert re.match(rf"{re.escape(str(tmp_path))}/bad\.yaml:\d+: draws\[0\]\.value", message)
    message = bad_spec(tmp_path, _set(["draws", 0, "value"], {"nope": 1}), ".json")
    assert "bad.json: draws[0].value" in message
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nslots: [a\n")
    with pytest.raises(CookbookError, match=r"broken\.yaml:\d+: malformed YAML"):
        load_spec(broken)
    with pytest.raises(CookbookError, match="template spec: draws"):
        load_spec({**load_spec(SPECS / "document_qa.yaml"), "draws": [{"let": "x"}]})


def test_nothing_in_a_spec_runs_as_code(tmp_path):
    spec = {
        "family": "search",
        "draws": [{"let": "words", "tokens": 3}],
        "slots": {"words": {"join": "$words"}, "code": "__import__('os').system('false')"},
        "rule": {"join": {"reverse": "$words"}},
        "prompt": "{code} {words}",
    }
    template = template_from_spec(spec, name="reverse")
    maker = SampleMaker(template, "reverse", template.resolve(), 0, tokens())
    record = maker.record(0)
    assert record["slots"]["code"] == "__import__('os').system('false')"
    words = record["slots"]["words"].split()
    assert record["slots"]["answer"].split() == words[::-1]
    assert template.name == "reverse" and template.spec["rule"] == spec["rule"]


def test_the_shipped_schema_lists_every_primitive():
    schema = spec_schema()
    expression = schema["$defs"]["expression"]["anyOf"][1]["propertyNames"]["enum"]
    assert sorted(expression) == sorted(OPERATORS)
    described = schema["$defs"]["expression"]["anyOf"][1]["properties"]
    assert sorted(described) == sorted(OPERATORS)
    for name, operator in OPERATORS.items():  # each says what it does and takes
        assert described[name]["description"].startswith(operator.description)
        assert all(arg in described[name]["description"] for arg in operator.args)
    steps = schema["$defs"]["step"]["properties"]
    assert set(steps) - {"let", "when", "otherwise"} == set(STEP_KINDS)
    assert sorted(schema["properties"]["scorer"]["anyOf"][0]["enum"]) == sorted(SCORERS)
    assert cookbook.load_spec is load_spec
    assert cookbook.spec_schema() == schema and cookbook.spec_schema() is not schema


def test_a_spec_file_is_a_template_name_for_generate_and_score(tmp_path):
    spec = str(SPECS / "document_qa.yaml")
    out = tmp_path / "s.jsonl"
    code, output = cli("generate", spec, "-n", "5", "-o", str(out), "-p", "k=2", "--workers", "1")
    assert code == 0, output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 5 and {r["template"] for r in records} == {spec}
    assert all(len(r["slots"]["answer"].split()) == 2 for r in records)
    # seeded by the spec's own name: the samples of the Python template of that name
    by_name = tmp_path / "n.jsonl"
    code, output = cli("generate", "document_qa", "-n", "5", "-o", str(by_name), "-p", "k=2")
    assert code == 0, output
    named = [json.loads(line) for line in by_name.read_text().splitlines()]
    assert [r["slots"] for r in named] == [r["slots"] for r in records]
    code, output = cli("score", spec, "--data", str(out), "-p", "k=2", "--json")
    assert code == 0, output
    assert json.loads(output)["statistic"] == 1.0
    # real task records: the spec's alignment is the Python template's
    by_spec = cli("score", spec, "--task", "squad", "--data", str(TYDIQA), "--json")
    by_name = cli("score", "document_qa", "--task", "squad", "--data", str(TYDIQA), "--json")
    assert by_spec[0] == by_name[0] == 0, by_spec[1] + by_name[1]
    assert json.loads(by_spec[1])["statistic"] == json.loads(by_name[1])["statistic"]


def test_a_bad_spec_file_is_one_clean_cli_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("family: search\nslots: {a: {nope: 1}}\nrule: $a\nprompt: '{a}'\n")
    code, output = cli("generate", str(bad), "-n", "2", "-o", str(tmp_path / "x.jsonl"))
    assert code != 0
    assert_clean(output)
    assert f"{bad}:2: slots.a" in output and "unknown operator 'nope'" in output
    assert not (tmp_path / "x.jsonl").exists()


def test_an_edited_spec_file_is_read_again(tmp_path):
    path = tmp_path / "t.yaml"
    spec = {
        "family": "search",
        "draws": [{"let": "words", "tokens": 4}],
        "slots": {"words": {"join": "$words"}},
        "rule": {"join": {"first": ["$words", 1]}},
        "prompt": "{words}",
    }
    path.write_text(yaml.safe_dump(spec))
    first = get_registry().get("templates", str(path))
    assert get_registry().get("templates", str(path)) is first
    spec["rule"] = {"join": {"last": ["$words", 1]}}
    path.write_text(yaml.safe_dump(spec) + "\n")
    os.utime(path, ns=(1, 1))
    second = get_registry().get("templates", str(path))
    assert second is not first
    assert second.rule({"words": "a b c"}) == "c" and first.rule({"words": "a b c"}) == "a"


def test_the_operators_compute_what_the_docs_say():
    from cookbook.specs.expressions import evaluate

    scope = {"w": ["b", "a", "c", "a"], "t": "x y z", "d": {"a": "A"}}
    cases = [
        ({"sort": "$w"}, ["a", "a", "b", "c"]),
        ({"reverse": "$t"}, ["z", "y", "x"]),
        ({"unique": "$w"}, ["b", "a", "c"]),
        ({"count": "$t"}, 3),
        ({"map": ["$w", {"a": "A", "b": "B"}]}, ["B", "A", "c", "A"]),
        ({"lookup": {"table": "$d", "key": "a"}}, "A"),
        ({"lookup": ["$d", "zz", "none"]}, "none"),
        ({"after": {"of": "$t", "start": 0, "length": 1, "k": 5}}, ["y", "z"]),
        ({"before": ["$w", 1, 3]}, ["b"]),
        ({"slice": ["$w", 1, 2]}, ["a", "c"]),
        ({"index": ["$w", -1]}, "a"),
        ({"int": {"mul": [7, {"sub": [1, 0.5]}]}}, 3),
        ({"if": [{"and": [True, {"gt": [2, 1]}]}, "yes", {"join": "$missing"}]}, "yes"),
        ({"literal": {"join": "$w"}}, {"join": "$w"}),
        ({"record": [["n", "c"], [["x", "y"], ""]]}, "n: x y. c: nan"),
        ({"record_overlap": ["n: x y. c: nan", "n: x y. c: q"]}, 0.8),  # nan left out
        ({"attribute_agreement": ["n: x y. c: q", "n: x y. c: r"]}, 0.5),
    ]
    for expr, want in cases:
        assert evaluate(expr, scope) == want, expr


def test_draw_steps_each_choice_and_when(tmp_path):
    spec = {
        "family": "selection",
        "params": {"n": {"type": "integer", "minimum": 1, "default": 4}},
        "draws": [
            {"let": "words", "distinct_tokens": "$n"},
            {"let": "pick", "choice": "$words"},
            {"let": "pairs", "each": {"over": "$words", "as": "w", "result": ["$w", "$pick"]}},
            {"let": "never", "when": False, "randint": [0, 9], "otherwise": -1},
        ],
        "slots": {
            "words": {"join": "$words"},
            "pick": "$pick",
            "same": {"count": {"flatten": "$pairs"}},
            "never": "$never",
        },
        "rule": {"index": [{"words": "$words"}, 0]},
        "prompt": "{words} {pick}",
    }
    template = template_from_spec(spec, name="picker")
    maker = SampleMaker(template, "picker", template.resolve({"n": 5}), 0, tokens())
    for i in range(20):
        slots = maker.record(i)["slots"]
        words = slots["words"].split()
        assert len(set(words)) == 5 and slots["pick"] in words
        assert slots["same"] == 10 and slots["never"] == -1
        assert slots["answer"] == words[0]


def test_the_documented_example_spec_works():
    text = (ROOT / "docs" / "automatic-templates.md").read_text()
    block = text.split("### The format", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    template = template_from_spec(yaml.safe_load(block))
    maker = SampleMaker(template, template.name, template.resolve(), 0, tokens())
    for i in range(10):
        slots = maker.record(i)["slots"]
        assert slots["answer"].split() == slots["words"].split()[::-1]
        assert 3 <= len(slots["words"].split()) <= 8


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_spec_loads_and_its_samples_follow_its_rule(path):
    template = template_from_spec(path)
    maker = SampleMaker(template, template.name, template.resolve(), 0, tokens())
    records = [maker.record(i) for i in range(30)]
    slots = [{k: v for k, v in r["slots"].items() if k != template.output} for r in records]
    answers = [r["slots"][template.output] for r in records]
    assert alignment_scores(template, slots, answers) == [1.0] * 30


def test_a_spec_cannot_ask_for_unbounded_work():
    base = {"family": "search", "slots": {"w": {"join": "$w"}}, "rule": "$w", "prompt": "{w}"}
    huge = {**base, "draws": [{"let": "w", "tokens": {"mul": [1000, 1000, 1000]}}]}
    forever = {
        **base,
        "draws": [
            {"let": "w", "tokens": 1},
            {"repeat": {"times": 10**9, "steps": [{"let": "w", "tokens": 1}]}},
        ],
    }
    for spec, fragment in ((huge, "'tokens': of must be"), (forever, "'repeat': times must be")):
        template = template_from_spec(spec, name="greedy")
        maker = SampleMaker(template, "greedy", template.resolve(), 0, tokens())
        with pytest.raises(
            CookbookError, match=f"template 'greedy' failed on sample 0: .*{fragment}"
        ):
            maker.record(0)
