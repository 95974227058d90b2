"""Property-based fuzzing (issue #19): whatever a user gives Cookbook (a pipeline file, a task
file, command-line arguments), the outcome is acceptance or one clear error naming the place:
never a traceback, an exception class name, a hang or half-written output.

Inputs are mutations of valid ones: a pipeline's keys, values, types and nesting changed,
then its text given aliases, tags, deep nesting, stray bytes or another encoding; SQuAD
JSON, multiple-choice JSONL and DeepMatcher CSV folders changed the same way; commands run
with mutated arguments. Each case runs under a deadline, with a fixed seed (``derandomize``)
so that a run is reproducible, and few enough examples for the whole file to take well under
a minute. The nastiest cases found are kept as files in ``tests/fixtures/bad/`` (see
``test_bad_inputs.py``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import assert_clean, cli
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cookbook.contract.errors import CookbookError
from cookbook.pipeline import runner
from cookbook.pipeline.config import load_pipeline
from cookbook.registry import get_registry

FIXTURES = Path(__file__).parent / "fixtures"

FUZZ = settings(
    max_examples=100,
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def assert_clean_outcome(code: int, output: str) -> None:
    event(f"exit code {code}")
    assert code in (0, 1, 2), (code, output)
    assert_clean(output)
    if code == 1:
        assert "Error: " in output, output


# ---------------------------------------------------------------------------- values

NAMES = st.sampled_from(
    [
        "document_qa",
        "retrieval",
        "multiple_choice",
        "qa:document_qa",
        "nope:document_qa",
        "squad",
        "generate",
        "train",
        "lora",
        "cvxpy",
        "uniform",
        "qa",
        "k",
        "samples",
        "name",
        "params",
        "inputs",
    ]
)
ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "[bold red]x[/]",
        "[/]",
        "a" * 300,
        "../../etc/passwd",
        "/",
        "~",
        "yes",
        "on",
        "1e9",
        "0x10",
        ".nan",
        "-.inf",
        "\u202eevil",
        "é",
        "2024-01-01",
        "a:b:c",
        "\udcff",  # a command-line byte that is not UTF-8, as Python passes it on
        "*",
        "&",
        "!!python/object:os.system",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    NAMES,
    ODD_TEXT,
)
KEYS = st.one_of(NAMES, st.text(max_size=8), ODD_TEXT, st.integers(-2, 2), st.booleans(), st.none())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in ``value``: the JSON path of each list item and mapping value."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def mutate(data: st.DataObject, document: Any, rounds: int) -> Any:
    """``document`` with ``rounds`` random changes: a value replaced, a key removed or added,
    a value wrapped in a list or a mapping."""
    for _ in range(rounds):
        places = paths(document)
        where = data.draw(st.sampled_from(places))
        if not where:
            continue
        parent = document
        for part in where[:-1]:
            parent = parent[part]
        last = where[-1]
        action = data.draw(st.sampled_from(["replace", "remove", "add", "wrap"]))
        if action == "replace":
            parent[last] = data.draw(VALUES)
        elif action == "remove":
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(KEYS)] = data.draw(VALUES)
        elif action == "add":
            parent.append(data.draw(VALUES))
        else:
            parent[last] = data.draw(st.sampled_from([[parent[last]], {"x": parent[last]}]))
    return document


# -------------------------------------------------------------------------- pipelines

SECTIONED = {
    "name": "fuzz",
    "seed": 3,
    "output_dir": "out",
    "token_space": "pseudowords",
    "templates": [
        {"name": "document_qa", "params": {"k": 2, "min_words": 10, "max_words": 30}},
        "retrieval",
    ],
    "tasks": [{"name": "qa", "type": "squad", "path": "squad.json", "dev_limit": 2}],
    "score": {"limit": 3},
    "mix": {"mixer": "uniform"},
    "generate": {"samples": 10},
}
STEPS = {
    "name": "fuzz-steps",
    "output_dir": "out",
    "templates": ["document_qa"],
    "steps": [
        {"name": "data", "kind": "generate", "params": {"samples": 4, "format": "jsonl"}},
        {"name": "more", "kind": "generate", "params": {"samples": 2}},
    ],
}

FULL = {
    "name": "fuzz-full",
    "seed": 1,
    "output_dir": "out",
    "model": "smollm2-135m-instruct",
    "token_space": "pseudowords",
    "templates": [{"name": "document_qa", "params": {"min_words": 8, "max_words": 12}}],
    "tasks": [
        {"name": "qa", "type": "squad", "path": "squad.json", "dev_limit": 3},
        {"name": "mc", "type": "multiple_choice", "path": "squad.json", "calibrate": False},
    ],
    "mix": {"mixer": "cvxpy", "scores": "proxy", "objective": "mean"},
    "generate": {"samples": 16},
    "train": {"trainer": "lora", "max_steps": 2, "batch_size": 4, "lora_r": 4},
    "eval": {"tasks": ["qa"], "limit": 3, "template_samples": 2},
}

#: Text spliced into a pipeline file: YAML's sharp edges.
SNIPPETS = [
    "extra: &a [*a]\n",
    "a: &x {k: 1}\nb: *x\n",
    "shared: &s {samples: 3}\ngenerate: {<<: *s}\n",
    "deep: " + "[" * 120 + "]" * 120 + "\n",
    "deep: " + "{a: " * 120 + "1" + "}" * 120 + "\n",
    "deep: " + "[" * 1200 + "]" * 1200 + "\n",
    "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else 'x'}]\n" for i in range(9)),
    "seed: !!python/object/apply:os.system ['echo hi']\n",
    "seed: !!binary aGk=\n",
    "seed: !!int x\n",
    "seed: !!set {a, b}\n",
    "seed: !!timestamp 2024-01-01\n",
    "seed: !foo bar\n",
    "seed: 1\nseed: 2\n",
    "---\nname: second\n",
    "? [a, b]\n: 1\n",
    "? {a: 1}\n: 1\n",
    "1: one\non: yes\n~: null\n",
    "\tname: tab\n",
    "name: a\x01b\n",
    "x: *undefined\n",
    "name: " + "n" * 5000 + "\n",
    "%YAML 1.1\n---\n",
    "'unterminated: [\n",
]


def pipeline_text(data: st.DataObject) -> bytes:
    document = json.loads(json.dumps(data.draw(st.sampled_from([SECTIONED, STEPS, FULL]))))
    document = mutate(data, document, data.draw(st.integers(0, 3)))
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    for _ in range(data.draw(st.sampled_from([0, 0, 0, 1, 2]))):
        snippet = data.draw(st.sampled_from(SNIPPETS))
        at = data.draw(st.sampled_from(["start", "end", "middle"]))
        if at == "start":
            text = snippet + text
        elif at == "end":
            text = text + snippet
        else:
            cut = data.draw(st.integers(0, len(text)))
            text = text[:cut] + snippet + text[cut:]
    encoding = data.draw(st.sampled_from(["utf-8"] * 9 + ["utf-8-sig", "utf-16", "latin-1"]))
    raw = text.encode(encoding, errors="replace")
    damage = data.draw(st.sampled_from(["none"] * 9 + ["truncate", "byte", "nul"]))
    if damage == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    elif damage == "byte":
        at = data.draw(st.integers(0, len(raw)))
        raw = raw[:at] + bytes([data.draw(st.integers(0, 255))]) + raw[at:]
    elif damage == "nul":
        raw = raw + b"\x00"
    return raw


def check_pipeline(folder: Path, raw: bytes) -> None:
    shutil.copy(FIXTURES / "pipeline" / "tiny_squad.json", folder / "squad.json")
    path = folder / "pipeline.yaml"
    path.write_bytes(raw)
    code, output = cli("validate", str(path))
    assert_clean_outcome(code, output)
    try:
        pipeline = load_pipeline(path)
    except CookbookError as exc:
        assert code == 1, output
        assert str(path) in str(exc), str(exc)
    else:
        assert code == 0, output
        runner.plan(pipeline)  # every step's hash, without running anything
        yaml.safe_dump(pipeline.resolved())
    assert not (folder / "out").exists()  # validating writes nothing
    assert not (folder / "runs").exists()


def test_fuzzed_pipeline_files_are_accepted_or_one_clear_error():
    get_registry()  # plugins load once, before the deadline applies

    @settings(FUZZ, max_examples=200)
    @given(st.data())
    def case(data):
        raw = pipeline_text(data)
        with tempfile.TemporaryDirectory() as folder:
            check_pipeline(Path(folder), raw)

    case()


def test_fuzzed_set_overrides_are_accepted_or_one_clear_error():
    get_registry()
    keys = st.one_of(
        st.sampled_from(["seed", "name", "generate.samples", "templates.0.params.k", "tasks.0"]),
        st.sampled_from(["templates.5", "generate.1", "a..b", ".", "x." * 150 + "y", "0", "²"]),
        st.text(max_size=10),
    )
    values = st.one_of(
        st.sampled_from(["3", "-1", "[1, 2]", "{1: 2}", "{on: 1}", "&a [*a]", "!!int x"]),
        st.sampled_from(["[" * 200 + "]" * 200, "{a: " * 150 + "1" + "}" * 150, ""]),
        st.sampled_from([SNIPPETS[6].replace("\n", ", ").join("{}")]),
        st.text(max_size=10),
    )

    @FUZZ
    @given(st.lists(st.tuples(keys, values), max_size=3), st.sampled_from(["validate", "plan"]))
    def case(sets, command):
        with tempfile.TemporaryDirectory() as folder:
            shutil.copy(FIXTURES / "pipeline" / "tiny_squad.json", Path(folder) / "squad.json")
            path = Path(folder) / "pipeline.yaml"
            path.write_text(yaml.safe_dump(SECTIONED, sort_keys=False))
            args = [a for k, v in sets for a in ("--set", f"{k}={v}")]
            code, output = cli(command, str(path), *args)
            assert_clean_outcome(code, output)
            assert not (Path(folder) / "out").exists()

    case()


# ------------------------------------------------------------------------- task files


def json_damage(data: st.DataObject, text: str) -> bytes:
    """``text`` perhaps cut short, nested absurdly deep, given a stray byte or a BOM."""
    damage = data.draw(st.sampled_from(["none"] * 5 + ["truncate", "deep", "byte", "bom", "empty"]))
    raw = text.encode()
    if damage == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    elif damage == "deep":
        raw = b"[" * 200_000 + b"]" * 200_000
    elif damage == "byte":
        at = data.draw(st.integers(0, len(raw)))
        raw = raw[:at] + bytes([data.draw(st.integers(128, 255))]) + raw[at:]
    elif damage == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif damage == "empty":
        raw = b""
    return raw


def score_task(template: str, task: str, data: Path) -> None:
    code, output = cli("score", template, "--task", task, "--data", str(data), "--json")
    assert_clean_outcome(code, output)
    if code == 0:
        report = json.loads(output)
        assert report["n"] >= 1 and 0.0 <= report["statistic"] <= 1.0


def test_fuzzed_squad_files_are_read_or_one_clear_error():
    get_registry()
    squad = json.loads((FIXTURES / "qa" / "squad_small.json").read_text())

    @FUZZ
    @given(st.data(), st.sampled_from(["document_qa", "multiple_choice"]))
    def case(data, template):
        document = mutate(data, json.loads(json.dumps(squad)), data.draw(st.integers(1, 3)))
        text = json.dumps(document, ensure_ascii=False, allow_nan=True, default=str)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "squad.json"
            path.write_bytes(json_damage(data, text))
            score_task(template, "squad", path)

    case()


def test_fuzzed_multiple_choice_files_are_read_or_one_clear_error():
    get_registry()
    lines = [
        json.loads(line)
        for line in (FIXTURES / "multiple_choice" / "arc_small.jsonl").read_text().splitlines()
    ]

    @FUZZ
    @given(st.data())
    def case(data):
        records = mutate(data, json.loads(json.dumps(lines[:3])), data.draw(st.integers(1, 3)))
        if not isinstance(records, list):
            records = [records]
        text = "\n".join(json.dumps(r, default=str) for r in records) + "\n"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "mc.jsonl"
            path.write_bytes(json_damage(data, text))
            score_task("multiple_choice", "multiple_choice", path)

    case()


CSV_CELLS = st.one_of(
    st.text(max_size=6),
    st.sampled_from(['"', '""', "a,b", "\n", "\r", "0", "10", "1", "-1", "x" * 200_000, "\ufeff"]),
)


def test_fuzzed_deepmatcher_folders_are_read_or_one_clear_error():
    get_registry()
    tables = {p.name: p.read_text() for p in (FIXTURES / "deepmatcher").glob("*.csv")}

    @FUZZ
    @given(st.data())
    def case(data):
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            for name, text in tables.items():
                rows = [line.split(",") for line in text.splitlines()]
                for _ in range(data.draw(st.integers(0, 2))):
                    row = data.draw(st.integers(0, len(rows) - 1))
                    action = data.draw(st.sampled_from(["cell", "drop", "dup", "short"]))
                    if action == "cell" and rows[row]:
                        column = data.draw(st.integers(0, len(rows[row]) - 1))
                        rows[row][column] = data.draw(CSV_CELLS)
                    elif action == "drop":
                        del rows[row]
                    elif action == "dup":
                        rows.append(list(rows[row]))
                    elif rows[row]:
                        rows[row] = rows[row][:-1]
                if not rows and data.draw(st.booleans()):
                    continue  # the file is missing altogether
                body = "\n".join(",".join(r) for r in rows) + "\n"
                (root / name).write_bytes(
                    json_damage(data, body) if name == "test.csv" else body.encode()
                )
            score_task("entity_matching", "deepmatcher", root)

    case()


# ---------------------------------------------------------------------- command lines

TEMPLATES = st.sampled_from(["document_qa", "retrieval", "multiple_choice", "qa:document_qa"])
WORDS = st.one_of(NAMES, ODD_TEXT, st.text(max_size=8), st.sampled_from(["-", "--", "-n", "--x"]))
NUMBERS = st.one_of(
    st.integers(1, 12).map(str),
    st.integers(1, 12).map(str),
    st.integers(1, 12).map(str),
    st.integers(-3, 0).map(str),
    st.sampled_from(["", "x", "1e3", "2.5", "0x10"]),
)  # fmt: skip  (never huge: preview -n 10**30 would rightly print samples until stopped)
LIMITS = st.one_of(NUMBERS, st.just("9" * 30))
PARAM_KEYS = st.sampled_from(
    ["k", "length", "max_words", "min_words", "side", "document_qa.k", "retrieval.k", "", "a.b"]
)
PARAM_VALUES = st.one_of(
    st.integers(-2, 50).map(str),
    st.sampled_from(["true", "before", "[1, 2]", "{a: 1}", "{1: 2}", "&a [*a]", "!!int x", ""]),
    st.sampled_from(["[" * 300, "{a: " * 120 + "1" + "}" * 120, "x" * 500, "2.0", ".nan"]),
)
PARAMS = st.lists(st.builds("{}={}".format, PARAM_KEYS, PARAM_VALUES), max_size=2)
#: Where a command's file arguments point (filled in per case).
SOURCES = ["samples", "squad", "choices", "folder", "junk", "missing", "pipeline"]


@st.composite
def command_lines(draw: Any) -> list[str]:
    """A command line of ``preview``, ``generate``, ``score``, ``validate`` or ``plan`` that is
    mostly well formed, then perhaps damaged: an argument dropped, repeated or replaced."""
    command = draw(st.sampled_from(["preview", "generate", "score", "validate", "plan"]))
    template = draw(st.one_of(TEMPLATES, TEMPLATES, WORDS))
    params = [a for item in draw(PARAMS) for a in ("--param", item)]
    if command == "preview":
        args = [template, "-n", draw(NUMBERS), *params]
    elif command == "generate":
        names = [template, *draw(st.lists(TEMPLATES, max_size=1))]
        fmt = draw(st.sampled_from(["jsonl", "jsonl", "parquet", "csv"]))
        args = [*names, "-n", draw(NUMBERS), "-o", "@OUT", "--workers", "1", "--format", fmt]
        args += params
    elif command == "score":
        source = draw(st.sampled_from(SOURCES))
        args = [template, "--data", f"@{source}", *params, "--json"]
        task = {"squad": "squad", "choices": "multiple_choice"}.get(source)
        if task or draw(st.booleans()):
            args += ["--task", task or draw(WORDS)]
        if draw(st.booleans()):
            args += ["--limit", draw(LIMITS)]
    else:
        sets = draw(st.lists(st.builds("{}={}".format, st.sampled_from(
            ["seed", "generate.samples", "templates.0.params.k", "name", "x.y", "templates.9"]
        ), PARAM_VALUES), max_size=2))  # fmt: skip
        args = ["@pipeline", *[a for item in sets for a in ("--set", item)]]
    if args and draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(args) - 1))
        damage = draw(st.sampled_from(["drop", "repeat", "replace"]))
        if damage == "drop":
            del args[at]
        elif damage == "repeat":
            args.insert(at, args[at])
        else:
            args[at] = draw(WORDS)
    return [command, *args]


def place_sources(root: Path) -> dict[str, Path]:
    """The files a fuzzed command line may name, written under ``root``."""
    from cookbook.engine.samples import SampleMaker
    from cookbook.engine.token_spaces import resolve_token_space

    registry = get_registry()
    template = registry.get("templates", "document_qa")
    maker = SampleMaker(
        template, "document_qa", template.resolve(), 0, resolve_token_space("pseudowords")
    )
    samples = root / "samples.jsonl"
    samples.write_text("".join(maker.line(i) for i in range(4)))
    (root / "junk.jsonl").write_bytes(b'{"id": 1, "slots": [1]}\n\xff\x00\n')
    shutil.copy(FIXTURES / "pipeline" / "tiny_squad.json", root / "squad.json")
    pipeline = root / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump(SECTIONED, sort_keys=False))
    return {
        "samples": samples,
        "squad": FIXTURES / "qa" / "squad_small.json",
        "choices": FIXTURES / "multiple_choice" / "arc_small.jsonl",
        "folder": root,
        "junk": root / "junk.jsonl",
        "missing": root / "missing.jsonl",
        "pipeline": pipeline,
        "OUT": root / "out" / "samples.jsonl",
    }


def test_fuzzed_command_lines_are_one_clear_outcome():
    get_registry()

    @FUZZ
    @given(command_lines())
    def case(line):
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            sources = place_sources(root)
            before = sorted(p.relative_to(root) for p in root.rglob("*"))
            args = [str(sources[a[1:]]) if a[1:] in sources else a for a in line]
            code, output = cli(*args)
            assert_clean_outcome(code, output)
            after = sorted(p.relative_to(root) for p in root.rglob("*"))
            made = [str(p) for p in after if p not in before]
            if line[0] == "generate" and code == 0:  # the output, complete, and nothing else
                assert made == ["out", "out/samples.jsonl"] or made == [], made
            else:
                assert made == [] or made == ["out"], made  # nothing half-written
            assert not list(root.rglob("*.partial")) and not list(root.rglob(".*.tmp"))

    case()


@pytest.mark.parametrize("text", ["name: [x]\n", "{", "\x00"])
def test_the_cli_helper_sees_what_the_console_script_prints(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    code, output = cli("validate", str(path))
    assert code == 1 and output.startswith("Error: ") and str(path) in output
