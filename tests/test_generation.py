"""Generation: determinism across worker counts, seeds, interleaving, formats, atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from cookbook.contract.errors import CookbookError
from cookbook.engine.generation import Job, chunks, generate, interleave, split_evenly
from cookbook.registry import get_registry

SCHEMA = json.loads((Path(__file__).parents[1] / "schemas" / "sample.schema.json").read_text())


def _jobs(n: int, **params) -> list[Job]:
    tpl = get_registry().get("templates", "document_qa")
    return [Job("document_qa", n, tpl.resolve(params))]


def test_same_seed_gives_identical_bytes_for_any_worker_count(tmp_path):
    one, two = tmp_path / "w1.jsonl", tmp_path / "w2.jsonl"
    generate(_jobs(5000), 7, one, workers=1)
    generate(_jobs(5000), 7, two, workers=2)
    assert one.read_bytes() == two.read_bytes()
    assert len(one.read_text().splitlines()) == 5000


def test_different_seeds_give_different_data(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    generate(_jobs(20), 1, a, workers=1)
    generate(_jobs(20), 2, b, workers=1)
    docs_a = [json.loads(x)["slots"]["document"] for x in a.read_text().splitlines()]
    docs_b = [json.loads(x)["slots"]["document"] for x in b.read_text().splitlines()]
    assert not set(docs_a) & set(docs_b)


def test_sample_depends_only_on_seed_template_params_and_index(tmp_path):
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    generate(_jobs(3), 0, small, workers=1)
    generate(_jobs(50), 0, large, workers=1)
    assert large.read_text().splitlines()[:3] == small.read_text().splitlines()
    changed = tmp_path / "k4.jsonl"
    generate(_jobs(3, k=4), 0, changed, workers=1)
    assert changed.read_text() != small.read_text()


def test_records_follow_the_sample_schema_and_the_rule(tmp_path):
    out = tmp_path / "s.jsonl"
    generate(_jobs(50, side="after", k=2), 3, out, workers=1)
    tpl = get_registry().get("templates", "document_qa")
    for line in out.read_text().splitlines():
        record = json.loads(line)
        jsonschema.validate(record, SCHEMA)
        words, question = record["slots"]["document"].split(), record["slots"]["question"].split()
        start = record["slots"]["position"]
        assert words[start : start + len(question)] == question
        assert record["completion"] == " " + " ".join(words[start + len(question) :][:2])
        assert tpl.align(record["slots"], record["slots"]["answer"], tpl.resolve()) == 1.0


def test_split_evenly_and_interleave_spread_templates():
    assert split_evenly(10, 3) == [4, 3, 3]
    order = list(interleave([4, 2]))
    assert sorted(order) == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]
    assert [job for job, _ in order] == [0, 1, 0, 0, 1, 0]
    assert [sorted(chunk) for chunk in chunks([4, 2], size=4)] == [
        [(0, 0, 3), (1, 0, 1)],
        [(0, 3, 4), (1, 1, 2)],
    ]


def test_two_templates_with_their_own_params(echo_plugin, tmp_path):
    registry = get_registry()
    jobs = [
        Job("document_qa", 3, registry.get("templates", "document_qa").resolve()),
        Job("echo", 2, registry.get("templates", "echo").resolve({"length": 5})),
    ]
    out = tmp_path / "mix.jsonl"
    assert generate(jobs, 0, out, workers=2) == 5
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["template"] for r in records] == [
        "document_qa",
        "echo",
        "document_qa",
        "echo",
        "document_qa",
    ]
    assert all(len(r["slots"]["words"].split()) == 5 for r in records if r["template"] == "echo")


def _install_failing(install_fake, name: str, draw: str, bad: int) -> None:
    """A third-party template whose rule fails on the samples where ``n == bad``."""
    install_fake(
        f"cookbook-template-{name}",
        name,
        f"""
        from cookbook import hookimpl, template

        def rule(slots):
            if slots["n"] == {bad}:
                raise ValueError("bad sample")
            return "x"

        @template(prompt="{{n}}", rule=rule)
        def {name}(rng, tokens):
            return {{"n": {draw}}}

        @hookimpl
        def register_templates(register):
            register({name})
        """,
    )


def test_failing_template_leaves_nothing_behind(install_fake, tmp_path):
    _install_failing(install_fake, "flaky", "rng.randrange(10**9) % 2 + 3000", bad=3000)
    out = tmp_path / "never.jsonl"
    with pytest.raises(CookbookError, match="template 'flaky' failed on sample"):
        generate([Job("flaky", 100, {})], 0, out, workers=1)
    assert list(tmp_path.iterdir()) == [tmp_path / "site"]


def test_failure_in_a_later_chunk_with_workers_writing_stops_cleanly(install_fake, tmp_path):
    _install_failing(install_fake, "rare", "rng.randrange(4000)", bad=0)
    out = tmp_path / "never.jsonl"
    messages = []
    for workers in (1, 2):
        with pytest.raises(CookbookError, match="template 'rare' failed on sample") as error:
            generate([Job("rare", 20_000, {})], 3, out, workers=workers)
        messages.append(str(error.value))
    # Under seed 3 the first bad sample is 10185, in the fifth chunk: earlier chunks were
    # written (or waiting) in other workers when it failed.
    assert messages[0] == messages[1]
    assert "sample 10185" in messages[1]
    assert list(tmp_path.iterdir()) == [tmp_path / "site"]


def test_workers_write_interleaved_templates_byte_identically(echo_plugin, tmp_path):
    registry = get_registry()
    jobs = [
        Job("document_qa", 3000, registry.get("templates", "document_qa").resolve()),
        Job("echo", 2500, registry.get("templates", "echo").resolve({"length": 3})),
    ]
    one, three = tmp_path / "w1.jsonl", tmp_path / "w3.jsonl"
    assert generate(jobs, 4, one, workers=1) == 5500
    assert generate(jobs, 4, three, workers=3) == 5500
    assert one.read_bytes() == three.read_bytes()


def test_parquet_holds_the_same_records(tmp_path):
    pytest.importorskip("pyarrow")
    from cookbook.engine.samples import read_samples

    jsonl, parquet = tmp_path / "s.jsonl", tmp_path / "s.parquet"
    generate(_jobs(3000), 5, jsonl, workers=1)
    generate(_jobs(3000), 5, parquet, workers=2, fmt="parquet")
    assert list(read_samples(parquet)) == list(read_samples(jsonl))


def test_bad_format_and_seed_are_clear_errors(tmp_path):
    with pytest.raises(CookbookError, match="unknown format 'csv'"):
        generate(_jobs(1), 0, tmp_path / "x", fmt="csv")
    with pytest.raises(CookbookError, match="seed"):
        generate(_jobs(1), -1, tmp_path / "x")


def test_an_output_the_disk_cannot_hold_is_refused_before_anything_is_written(
    tmp_path, monkeypatch
):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(10**6, 0, 50_000))
    params = get_registry().get("templates", "document_qa").resolve()
    out = tmp_path / "out.jsonl"
    with pytest.raises(CookbookError, match=r"1,000 samples need about 1\.\d MB, and .* has 50"):
        generate([Job("document_qa", 1000, params)], 0, out, workers=1)
    assert list(tmp_path.iterdir()) == []
    generate([Job("document_qa", 20, params)], 0, out, workers=1)  # 30 KB fits
    assert len(out.read_text().splitlines()) == 20
