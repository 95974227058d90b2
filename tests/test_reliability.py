"""Issue #19, case by case: every bad input a clear error, no lost files, no orphans, no silent
wrong data. Each test pins one behaviour that ``docs/limits.md`` documents."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from cli_helpers import assert_clean, cli

from cookbook.contract.components import TaskRecord
from cookbook.contract.errors import CookbookError
from cookbook.engine.samples import SampleMaker
from cookbook.engine.token_spaces import resolve_token_space
from cookbook.pipeline import runner
from cookbook.pipeline.config import load_pipeline
from cookbook.pipeline.yamlfile import MAX_BYTES, MAX_DEPTH, MAX_NODES, load_yaml
from cookbook.registry import get_registry

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = """\
name: good
output_dir: out
templates:
  - name: document_qa
    params: {k: 2}
generate:
  samples: 5
"""


def write(folder: Path, text: str, name: str = "pipeline.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------- pipeline files


def test_a_five_megabyte_name_is_refused_at_once_and_printed_cut(tmp_path):
    path = write(tmp_path, GOOD.replace("name: good", "name: " + "a" * 5_000_000))
    start = time.monotonic()
    code, output = cli("validate", str(path))
    assert time.monotonic() - start < 10  # it passed, then Rich highlighted it for minutes
    assert code == 1
    assert "name: 'aaaaaaaa" in output
    assert "(4,999,922 more characters) is too long: a name has at most 200 characters" in output
    assert len(output) < 1000
    assert_clean(output)


def test_long_names_everywhere_are_refused_with_one_message_each(tmp_path):
    long = "x" * 201
    text = (
        GOOD.replace("name: document_qa", f"name: {long}")
        + f"tasks:\n  - {{name: {long}, type: {long}, path: .}}\n"
    )
    with pytest.raises(CookbookError) as err:
        load_pipeline(write(tmp_path, text))
    message = str(err.value)
    assert message.startswith("3 errors in pipeline.yaml"), message
    for place in ("templates[0].name", "tasks[0].name", "tasks[0].type"):
        assert f"{place}: 'xxxx" in message
    assert message.count("a name has at most 200 characters") == 3
    assert "unknown" not in message  # a too-long name is not looked up as well


def test_a_wide_pipeline_is_checked_in_bounded_time_and_its_report_is_bounded(tmp_path):
    steps = "".join(
        f"  - {{name: s{i}, kind: generate, params: {{samples: 1}}}}\n" for i in range(5000)
    )
    path = write(tmp_path, f"name: w\noutput_dir: out\ntemplates: [document_qa]\nsteps:\n{steps}")
    start = time.monotonic()
    assert len(load_pipeline(path).steps) == 5000  # was quadratic: name counts, ordering
    assert time.monotonic() - start < 20
    many = write(tmp_path, "name: m\ntemplates: [" + ", ".join(["document_qa"] * 300) + "]\n")
    with pytest.raises(CookbookError) as err:
        load_pipeline(many)
    lines = str(err.value).splitlines()
    assert lines[0] == "299 errors in pipeline.yaml" and lines[-1] == "... and 199 more errors"
    assert len(lines) == 102


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"name: big\n" + b"#" * MAX_BYTES)
    code, output = cli("validate", str(path))
    assert code == 1
    assert f"{path}: larger than 10 MiB, the most a pipeline file may hold" in output


@pytest.mark.parametrize(
    "text, message",
    [
        (f"name: x\nseed: {'[' * (MAX_DEPTH + 1)}{']' * (MAX_DEPTH + 1)}\n", "nest more than 100"),
        ("name: x\nseed: " + "{a: " * MAX_DEPTH + "1" + "}" * MAX_DEPTH + "\n", "nest more than"),
        ("name: x\nl: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n", None),
        ("name: x\nl: [" + ", ".join(["1"] * (MAX_NODES + 1)) + "]\n", "more than 100,000 values"),
    ],
    ids=["too deep", "too deep by one", "deep enough", "too many values"],
)
def test_nesting_and_size_limits_are_exact(tmp_path, text, message):
    path = write(tmp_path, text)
    if message is None:
        data, _ = load_yaml(path)
        assert data["name"] == "x"
        return
    with pytest.raises(CookbookError, match=message):
        load_yaml(path)


def test_an_alias_bomb_is_refused_before_anything_is_built(tmp_path):
    laughs = "".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else 'lol'}]\n" for i in range(30)
    )  # 9^29 values once expanded
    start = time.monotonic()
    with pytest.raises(CookbookError, match=r":7: the document holds more than 100,000 values"):
        load_yaml(write(tmp_path, "name: bomb\n" + laughs))
    assert time.monotonic() - start < 5


def test_aliases_and_merge_keys_work_and_each_place_is_its_own(tmp_path):
    text = GOOD.replace("generate:\n  samples: 5\n", "") + (
        "defaults: &defaults {samples: 5, format: jsonl}\n"
    )
    text = text.replace("defaults: &defaults", "x-unused: &defaults")
    path = write(
        tmp_path,
        "name: shared\noutput_dir: out\ntemplates: [document_qa]\nsteps:\n"
        "  - {name: a, kind: generate, params: &p {samples: 5, format: jsonl}}\n"
        "  - {name: b, kind: generate, params: {<<: *p, samples: 7}}\n"
        "  - {name: c, kind: generate, params: *p}\n",
    )
    pipeline = load_pipeline(path, [("steps.0.params.samples", 9)])
    samples = {s.name: s.params["samples"] for s in pipeline.steps}
    assert samples == {"a": 9, "b": 7, "c": 5}  # --set changed one place, not its alias


def test_text_that_looks_like_a_date_stays_text_and_a_bom_is_read_past(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("name: good", "name: 2024-01-01").encode())
    assert load_pipeline(path).name == "2024-01-01"


@pytest.mark.parametrize(
    "sets, message",
    [
        (["seed={1: 2}"], "--set 'seed={1: 2}': keys are names, not 1"),
        (["generate.samples=&a [*a]"], "alias *a refers to a value that contains it"),
        (["seed=" + "[" * 200 + "]" * 200], "values nest more than 100 levels deep"),
        (["generate" + ".x" * 120 + "=1"], "--set: with the overrides, values nest more than"),
        (["generate.1=2"], "generate.1: unknown parameter '1'"),  # a mapping's key stays text
        (["templates.9=x"], "--set templates.9: no such place in the pipeline"),
        (["=3"], "--set '=3': expected KEY=VALUE"),
    ],
)
def test_set_values_are_held_to_the_limits_of_a_file(tmp_path, sets, message):
    path = write(tmp_path, GOOD)
    code, output = cli("validate", str(path), *[a for s in sets for a in ("--set", s)])
    assert code == 1 and message in output, output
    assert_clean(output)


@pytest.mark.parametrize(
    "value, message",
    [
        ("&a [*a]", "--param 'k=&a [*a]': alias *a refers to a value that contains it"),
        ("{1: 2}", "keys are names, not 1"),
        ("[" * 200 + "]" * 200, "values nest more than 100 levels deep"),
    ],
)
def test_param_values_are_held_to_the_same_limits(value, message):
    code, output = cli("preview", "document_qa", "--param", f"k={value}")
    assert code == 1 and message in output, output
    assert_clean(output)


def test_user_text_is_never_read_as_markup_nor_sent_raw_to_the_terminal(tmp_path):
    folder = tmp_path / "[bold]x"
    folder.mkdir()
    path = write(folder, GOOD)
    code, output = cli("validate", str(path))
    assert code == 0 and f"ok {path}: good" in output, output
    out = tmp_path / "a[/b]c.jsonl"  # a closing tag that opens nothing: a MarkupError
    code, output = cli("generate", "document_qa", "-n", "2", "-o", str(out), "--workers", "1")
    assert code == 0 and f"wrote 2 samples to {out}" in output, output
    bad = write(tmp_path, GOOD.replace("name: document_qa", 'name: "\\e[31mred\\x07"'))
    code, output = cli("validate", str(bad))
    assert code == 1 and "\x1b" not in output and "\x07" not in output, output


# ------------------------------------------------------------------------- scoring

TWIN = """
from cookbook import hookimpl, template

@template(prompt="Text: {text}\\nFirst word:", rule=lambda slots: slots["text"].split()[0])
def document_qa(rng, tokens, length: int = 3):
    return {"text": tokens.text(rng, length)}

@hookimpl
def register_templates(register):
    register(document_qa)
"""


def samples(path: Path, name: str, n: int) -> None:
    registry = get_registry()
    template = registry.get("templates", name)
    maker = SampleMaker(template, name, template.resolve(), 0, resolve_token_space("pseudowords"))
    with path.open("a") as f:
        f.writelines(maker.line(i) for i in range(n))


def test_with_two_plugins_providing_a_template_score_takes_only_the_named_ones(
    install_fake, tmp_path
):
    install_fake("cookbook-docqa-twin", "document_qa", TWIN, module="docqa_twin")
    data = tmp_path / "mixed.jsonl"
    samples(data, "qa:document_qa", 4)
    samples(data, "document_qa:document_qa", 3)
    code, output = cli("score", "qa:document_qa", "--data", str(data), "--json")
    assert code == 0, output
    report = json.loads(output)
    assert (report["n"], report["skipped"], report["statistic"]) == (4, 3, 1.0)
    code, output = cli("score", "document_qa:document_qa", "--data", str(data), "--json")
    assert code == 0, output  # was KeyError 'document': the other plugin's records scored
    report = json.loads(output)
    assert (report["n"], report["skipped"], report["statistic"]) == (3, 4, 1.0)
    bare = tmp_path / "bare.jsonl"
    bare.write_text(
        data.read_text().replace('"template":"qa:document_qa"', '"template":"document_qa"')
    )
    code, output = cli("score", "qa:document_qa", "--data", str(bare))
    assert code == 1
    assert "names template 'document_qa', which several plugins provide" in output
    assert_clean(output)


def test_records_whose_slots_do_not_fit_are_an_error_in_their_terms(tmp_path):
    data = tmp_path / "s.jsonl"
    data.write_text(
        json.dumps({"id": "r1", "template": "document_qa", "slots": {"answer": "a b"}}) + "\n"
    )
    code, output = cli("score", "document_qa", "--data", str(data))
    assert code == 1
    assert "scoring record r1 with 'document_qa' failed: the record has no slot" in output
    assert_clean(output)


def squad_with_empty_answers(path: Path) -> Path:
    document = json.loads((FIXTURES / "qa" / "squad_small.json").read_text())
    qas = [qa for a in document["data"] for p in a["paragraphs"] for qa in p["qas"]]
    qas[0]["answers"] = [{"text": "", "answer_start": 0}]
    qas[1]["answers"] = [{"text": "  ", "answer_start": 0}, *qas[1]["answers"]]
    path.write_text(json.dumps(document))
    return path


def test_empty_gold_answers_are_skipped_and_counted_by_score(tmp_path):
    data = squad_with_empty_answers(tmp_path / "squad.json")
    code, output = cli("score", "document_qa", "--task", "squad", "--data", str(data), "--json")
    assert code == 0, output
    report = json.loads(output)
    assert (report["n"], report["no_gold"]) == (2, 1)
    code, output = cli("score", "document_qa", "--task", "squad", "--data", str(data))
    assert "2 (1 without a non-empty gold answer skipped)" in output


def test_empty_gold_answers_are_skipped_and_counted_by_the_alignment_matrix():
    from cookbook.engine.mixing import alignment_matrix

    template = get_registry().get("templates", "retrieval")
    empty = TaskRecord(id="e", slots={}, answers=["", " "])
    records = {"t": [empty, empty, TaskRecord(id="x", slots={}, answers=["w"])]}
    no_gold: dict[str, int] = {}
    matrix = alignment_matrix(records, [template], no_gold=no_gold)
    assert no_gold == {"t": 2}
    assert matrix.as_mapping()["t"]["retrieval"] == 0.0  # one record, scored once
    with pytest.raises(CookbookError, match="none of its 2 records has a non-empty gold answer"):
        alignment_matrix({"t": [empty, empty]}, [template])


BLANK_TASK = """

from dataclasses import replace


class BlankTask(CopyTask):
    name = "blank"

    def read(self, path, split=None, *, prompt=UNSET):
        for record in super().read(path, split, prompt=prompt):
            if record.id == "copy-2":
                record = replace(record, answers=[""])
            elif record.id == "copy-3":
                record = replace(record, answers=["  ", *record.answers])
            yield record


@hookimpl
def register_tasks(register):
    register(CopyTask())
    register(PickTask())
    register(BlankTask())
"""


def test_empty_gold_answers_are_skipped_and_counted_by_evaluation(install_fake, tmp_path):
    pytest.importorskip("transformers")
    from eval_helpers import FAKE_PLUGIN, tiny_vocabulary, write_data
    from tiny_llama import build_tiny_llama

    from cookbook.engine.evaluation import evaluate_task

    # a module name of its own: another test imports FAKE_PLUGIN under the usual one
    install_fake("cookbook-blank-tasks", "blank_tasks", FAKE_PLUGIN + BLANK_TASK)
    copy, _ = write_data(tmp_path)
    model = build_tiny_llama(tmp_path / "tiny", tiny_vocabulary())
    result = evaluate_task("blank", str(copy), str(model), max_new_tokens=2, progress=False)
    assert (result["n"], result["no_gold"]) == (4, 1)
    assert "no_gold" not in evaluate_task(
        "copy", str(copy), str(model), max_new_tokens=2, progress=False
    )


# ------------------------------------------------------------------ failing steps

FLAKY = '''
from cookbook import Dataset, hookimpl, step_kind


@step_kind(outputs={"data": "dataset"})
def flaky(ctx, *, how: str = "write"):
    """Writes a file, then fails, is interrupted, or finishes, as asked."""
    if how != "nothing":
        (ctx.folder / "half.jsonl").write_text("{}\\n")
    if how == "interrupt":
        raise KeyboardInterrupt
    if how == "ok":
        return {"data": Dataset(file=ctx.folder / "half.jsonl", samples=1)}
    raise ValueError("disk on fire")


@hookimpl
def register_steps(register):
    register(flaky)
'''


def flaky_pipeline(folder: Path, how: str) -> Path:
    return write(
        folder,
        f"name: f\noutput_dir: out\nsteps:\n  - {{name: s, kind: flaky, params: {{how: {how}}}}}\n",
    )


def test_a_failing_step_says_what_it_left_and_a_rerun_replaces_it(install_fake, tmp_path):
    install_fake("cookbook-flaky", "flaky", FLAKY)
    path = flaky_pipeline(tmp_path, "write")
    pipeline = load_pipeline(path)
    digest = runner.plan(pipeline)[0].hash
    partial = tmp_path / "out" / "steps" / f"s-{digest}.partial"
    with pytest.raises(CookbookError) as err:
        runner.run(pipeline)
    message = str(err.value)
    assert "step 's' (kind 'flaky', plugin flaky 1.2.3) failed: ValueError: disk on fire" in message
    assert f"its unfinished work is kept in steps/s-{digest}.partial/, 1 file of 3 bytes" in message
    assert "running the pipeline again resumes from it or replaces it" in message
    assert (partial / "half.jsonl").exists()
    code, output = cli("run", str(path))
    assert code == 1 and "its unfinished work is kept in" in output
    assert "Traceback" not in output


def test_a_step_that_fails_having_written_nothing_leaves_no_folder(install_fake, tmp_path):
    install_fake("cookbook-flaky", "flaky", FLAKY)
    with pytest.raises(CookbookError) as err:
        runner.run(load_pipeline(flaky_pipeline(tmp_path, "nothing")))
    assert "nothing was left behind: its empty working folder steps/s-" in str(err.value)
    assert list((tmp_path / "out" / "steps").iterdir()) == []


def test_an_interrupted_step_says_what_it_left(install_fake, tmp_path):
    install_fake("cookbook-flaky", "flaky", FLAKY)
    code, output = cli("run", str(flaky_pipeline(tmp_path, "interrupt")))
    assert code == 130
    assert "s: stopped (its unfinished work is kept in steps/s-" in output
    assert output.rstrip().endswith("Interrupted.")
    log = (tmp_path / "out" / "logs" / "run.log").read_text()
    assert "its unfinished work is kept in" in log


def test_an_unreadable_step_record_is_an_error_naming_it(install_fake, tmp_path):
    install_fake("cookbook-flaky", "flaky", FLAKY)
    pipeline = load_pipeline(flaky_pipeline(tmp_path, "ok"))
    runner.run(pipeline)
    [record] = (tmp_path / "out" / "steps").glob("s-*/step.json")
    record.write_text("{not json")
    with pytest.raises(CookbookError, match="the record of a finished step cannot be read"):
        runner.plan(pipeline)


def test_an_unfinished_folder_with_a_final_name_is_replaced(install_fake, tmp_path):
    install_fake("cookbook-flaky", "flaky", FLAKY)
    pipeline = load_pipeline(flaky_pipeline(tmp_path, "ok"))
    digest = runner.plan(pipeline)[0].hash
    stray = tmp_path / "out" / "steps" / f"s-{digest}"
    stray.mkdir(parents=True)
    (stray / "leftover").write_text("x")  # no step.json: it never finished
    runner.run(pipeline)
    assert sorted(p.name for p in stray.iterdir()) == ["half.jsonl", "step.json"]


def test_the_resolved_pipeline_of_an_accepted_file_loads_again(tmp_path):
    path = write(tmp_path, GOOD)
    pipeline = load_pipeline(path)
    again = write(tmp_path, yaml.safe_dump(pipeline.resolved(), sort_keys=False), "again.yaml")
    assert [s.params for s in load_pipeline(again).steps] == [s.params for s in pipeline.steps]
