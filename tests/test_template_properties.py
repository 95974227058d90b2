"""Properties every registered template must have, third-party ones included.

Its own samples score exactly 1.0 under its scorer, records are valid JSON sample records,
the same (seed, index, params) gives the same record and different seeds give different ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cookbook.engine.samples import SampleMaker
from cookbook.engine.token_spaces import resolve_token_space
from cookbook.registry import get_registry, reset_registry

SEEDS = (0, 1, 12345)
INDICES = (0, 1, 2, 17, 999)
SAMPLE_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "sample.schema.json"
#: Parameters a template requires (it has no default for them).
REQUIRED = {
    "instruction_data": {"path": str(Path(__file__).parent / "fixtures/backtranslation/seed.jsonl")}
}


def _template_names() -> list[str]:
    names = get_registry().names("templates")
    reset_registry()
    return names


TEMPLATES = _template_names()


def _maker(name: str, seed: int) -> SampleMaker:
    registry = get_registry()
    template = registry.get("templates", name)
    tokens = resolve_token_space("pseudowords", registry)
    return SampleMaker(template, name, template.resolve(REQUIRED.get(name)), seed, tokens)


def test_the_built_in_templates_are_among_those_checked():
    assert {"document_qa", "retrieval", "fill_in_the_blank", "multiple_choice"} <= set(TEMPLATES)


@pytest.mark.parametrize("name", TEMPLATES)
def test_own_samples_score_exactly_one(name):
    for seed in SEEDS:
        maker = _maker(name, seed)
        template = maker.template
        for index in INDICES:
            slots = dict(maker.record(index)["slots"])
            output = slots.pop(template.output)
            score = template.align(slots, output, maker.params)
            assert score == 1.0, f"{name} seed {seed} index {index}: {score} for {output!r}"


@pytest.mark.parametrize("name", TEMPLATES)
def test_records_are_json_sample_records(name):
    validator = None
    if SAMPLE_SCHEMA.exists():
        import jsonschema

        validator = jsonschema.Draft202012Validator(json.loads(SAMPLE_SCHEMA.read_text()))
    maker = _maker(name, 0)
    for index in INDICES:
        record = maker.record(index)
        assert json.loads(maker.line(index)) == record, "slots must survive a JSON round trip"
        assert maker.template.output in record["slots"]
        if validator is not None:
            errors = [e.message for e in validator.iter_errors(record)]
            assert not errors, f"{name} index {index}: {errors}"


@pytest.mark.parametrize("name", TEMPLATES)
def test_same_seed_index_and_params_give_identical_records(name):
    first, second = _maker(name, 7), _maker(name, 7)
    for index in INDICES:
        assert first.line(index) == second.line(index)


@pytest.mark.parametrize("name", TEMPLATES)
def test_different_seeds_give_different_records(name):
    one, other = _maker(name, 0), _maker(name, 1)
    for index in INDICES:
        assert one.record(index)["slots"] != other.record(index)["slots"]
