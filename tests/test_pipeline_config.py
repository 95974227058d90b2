"""Pipeline files: every bad input is one clear message with its place, and nothing is written."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cookbook.contract.errors import CookbookError
from cookbook.pipeline.config import assembled_schema, load_pipeline
from cookbook.registry import get_registry

#: An alias of the embedded model: a model name that validates without network.
MODEL = "model: smollm2-135m-instruct\n"
GOOD = """\
name: good
seed: 1
output_dir: out
templates:
  - name: document_qa
    params: {k: 2}
generate:
  samples: 20
"""


def write(tmp_path, text):
    path = tmp_path / "pipeline.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "cookbook", *args], capture_output=True, text=True, timeout=120
    )


def test_good_pipeline_resolves_defaults_and_paths(tmp_path):
    pipeline = load_pipeline(write(tmp_path, GOOD))
    assert pipeline.output_dir == tmp_path / "out"
    template = pipeline.context.templates[0]
    assert template.params["k"] == 2
    assert template.params["max_words"] == 120  # template default filled in
    assert pipeline.context.token_space == "pseudowords"
    [generate] = pipeline.steps
    assert (generate.name, generate.kind) == ("generate", "generate")
    assert generate.params["format"] == "jsonl"  # the step kind's default filled in


def test_set_overrides_values_before_validation(tmp_path):
    path = write(tmp_path, GOOD)
    pipeline = load_pipeline(path, [("generate.samples", 7), ("templates.0.params.k", 5)])
    assert pipeline.steps[0].params["samples"] == 7
    assert pipeline.context.templates[0].params["k"] == 5


BAD = [
    ("malformed", GOOD.replace("seed: 1", "seed: [1"), ["malformed YAML"]),
    (
        "unknown key",
        GOOD.replace("seed: 1", "seed: 1\ntempaltes: []"),
        [":3: tempaltes: unknown key 'tempaltes'; did you mean 'templates'?"],
    ),
    (
        "unknown template",
        GOOD.replace("name: document_qa", "name: documnt_qa"),
        [":5: templates[0].name: unknown template 'documnt_qa'; did you mean 'document_qa'?"],
    ),
    ("seed string", GOOD.replace("seed: 1", "seed: one"), [":2: seed: 'one' is not of type"]),
    (
        "k string",
        GOOD.replace("{k: 2}", "{k: two}"),
        [":6: templates[0].params.k: 'two' is not of type 'integer'"],
    ),
    (
        "zero samples",
        GOOD.replace("samples: 20", "samples: 0"),
        [":8: generate.samples: 0 is less than the minimum of 1"],
    ),
    (
        "negative samples",
        GOOD.replace("samples: 20", "samples: -5"),
        ["generate.samples: -5 is less than the minimum of 1"],
    ),
    (
        "missing task data",
        GOOD + "tasks:\n  - {name: qa, type: squad, path: nope.json}\n",
        [":10: tasks[0].path: no such file or folder"],
    ),
    (
        "missing development data",
        GOOD + "tasks:\n  - {name: qa, type: squad, path: pipeline.yaml, dev_path: nope.json}\n",
        [":10: tasks[0].dev_path: no such file or folder"],
    ),
    (
        "calibration on the evaluated records",
        GOOD + "tasks:\n  - {name: em, type: deepmatcher, path: ., calibrate: true}\n",
        [":10: tasks[0].calibrate: a threshold is fitted on development records apart"],
    ),
    (
        "unknown task",
        GOOD + "tasks:\n  - {name: qa, type: squadd, path: pipeline.yaml}\n",
        ["tasks[0].type: unknown task 'squadd'; did you mean 'squad'?"],
    ),
    (
        "unknown mixer",
        GOOD + "mix: {mixer: cvxpi, scores: file, file: pipeline.yaml}\n",
        ["mix.mixer: unknown mixer 'cvxpi'; did you mean 'cvxpy'?"],
    ),
    (
        "unknown trainer",
        GOOD + MODEL + "train: {trainer: lroa}\n",
        ["train.trainer: unknown trainer 'lroa'"],
    ),
    (
        "misspelt trainer key",
        GOOD + MODEL + "train: {trainer: lora, max_step: 80, batch_size: 4}\n",
        ["train.max_step: unknown parameter 'max_step'; did you mean 'max_steps'?"],
    ),
    (
        "training without data",
        GOOD.replace("generate:\n  samples: 20\n", "") + MODEL + "train: {trainer: lora}\n",
        ["train: training needs a generate section (the data)"],
    ),
    (
        "evaluating without a model",
        GOOD + "eval: {template_samples: 2}\n",
        ["model: evaluation needs a model"],
    ),
    (
        "sections beside steps",
        GOOD + "steps:\n  - {name: g, kind: generate, params: {samples: 3}}\n",
        ["generate: a pipeline with steps has no sections: make it a step"],
    ),
    (
        "python tag",
        GOOD.replace("seed: 1", "seed: !!python/object/apply:os.system ['echo hi']"),
        [":2: could not determine a constructor for the tag", "are not allowed"],
    ),
]


@pytest.mark.parametrize("label, text, fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_reported_with_its_place(tmp_path, label, text, fragments):
    path = write(tmp_path, text)
    with pytest.raises(CookbookError) as err:
        load_pipeline(path)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, message
    assert str(path) in message


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(
    "label, text, fragments", BAD[:1] + BAD[3:5] + BAD[-1:], ids=["malformed", "seed", "k", "tag"]
)
def test_cli_reports_bad_input_and_writes_nothing(tmp_path, command, label, text, fragments):
    path = write(tmp_path, text)
    result = cli(command, str(path))
    assert result.returncode == 1
    assert all(f in result.stderr for f in fragments), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert "hi" not in result.stdout


def test_every_error_is_reported_at_once(tmp_path):
    text = GOOD.replace("seed: 1", "seed: one").replace("{k: 2}", "{k: two}")
    text = text.replace("samples: 20", "samples: 0") + "colour: red\n"
    with pytest.raises(CookbookError) as err:
        load_pipeline(write(tmp_path, text))
    message = str(err.value)
    assert message.startswith("4 errors in pipeline.yaml")
    for fragment in ("seed:", "templates[0].params.k", "generate.samples", "colour"):
        assert fragment in message


def test_schema_includes_plugin_parameters():
    schema = assembled_schema(get_registry())
    assert schema["$defs"]["templates.document_qa"]["properties"]["k"]["type"] == "integer"
    assert schema["$defs"]["steps.generate"]["properties"]["samples"]["minimum"] == 1
    lora = schema["$defs"]["trainers.lora"]["properties"]
    assert lora["lora_r"]["default"] == 16 and "trainer" in lora
    result = cli("schema")
    assert result.returncode == 0
    assert "templates.document_qa" in json.loads(result.stdout)["$defs"]


def test_third_party_template_params_are_validated_like_builtins(echo_plugin, tmp_path):
    text = GOOD.replace(
        "- name: document_qa\n    params: {k: 2}", "- name: echo\n    params: {length: long}"
    )
    with pytest.raises(CookbookError, match=r"templates\[0\]\.params\.length: 'long' is not"):
        load_pipeline(write(tmp_path, text))


def test_set_can_add_a_task_to_a_pipeline_without_one(tmp_path):
    data = tmp_path / "dev.json"
    data.write_text('{"data": []}')
    pipeline = load_pipeline(
        write(tmp_path, GOOD),
        [("tasks.0.name", "qa"), ("tasks.0.type", "squad"), ("tasks.0.path", str(data))],
    )
    [task] = pipeline.context.tasks
    assert (task.name, task.type, task.path, task.params) == ("qa", "squad", str(data), {})
    with pytest.raises(CookbookError, match="--set templates.5.name: no such place"):
        load_pipeline(write(tmp_path, GOOD), [("templates.5.name", "x")])


def test_a_misspelt_trainer_key_leaves_the_valid_ones_alone(tmp_path):
    text = GOOD + MODEL + "train: {trainer: lora, max_step: 80, batch_size: 4, lora_r: 8}\n"
    with pytest.raises(CookbookError) as err:
        load_pipeline(write(tmp_path, text))
    message = str(err.value)
    assert message.startswith("1 error in pipeline.yaml"), message
    assert "did you mean 'max_steps'?" in message


def test_an_unknown_component_names_the_plugin_that_failed_to_load(install_fake, tmp_path):
    install_fake("cookbook-template-reverse2", "reverse2", "raise ImportError('no numpy here')\n")
    text = GOOD.replace("name: document_qa", "name: reverse2")
    with pytest.raises(CookbookError) as err:
        load_pipeline(write(tmp_path, text))
    message = str(err.value)
    assert "unknown template 'reverse2'" in message
    assert (
        "plugins that failed to load: reverse2 (cookbook-template-reverse2 1.2.3: error:" in message
    )
    assert "ImportError: no numpy here" in message


def test_the_printed_schema_accepts_every_example_pipeline():
    import jsonschema
    import yaml

    schema = assembled_schema(get_registry())
    root = Path(__file__).parents[1] / "examples"
    # examples/specs holds template specs, not pipelines (tests/test_template_specs.py)
    examples = sorted(p for p in root.rglob("*.yaml") if p.parent != root / "specs")
    assert examples
    for path in examples:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_a_key_given_twice_is_an_error_naming_both_lines(tmp_path):
    text = GOOD.replace("samples: 20", "samples: -5\n  samples: 600")
    with pytest.raises(
        CookbookError, match=r":9: key 'samples' appears twice in one mapping \(first on line 8\)"
    ):
        load_pipeline(write(tmp_path, text))


def test_a_spec_file_is_named_relative_to_the_pipeline_and_seeded_by_its_own_name(tmp_path):
    """A spec path in a pipeline is read relative to the pipeline's folder (like data paths),
    and its samples depend on the spec's name, not on how its path was spelt."""
    spec = Path(__file__).parent.parent / "examples" / "specs" / "document_qa.yaml"
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "qa.yaml").write_text(spec.read_text())
    (tmp_path / "runs").mkdir()
    path = tmp_path / "runs" / "pipeline.yaml"
    path.write_text("name: s\ntemplates: [../specs/qa.yaml]\ngenerate: {samples: 3}\n")
    [use] = load_pipeline(path).context.templates
    assert use.name == str((tmp_path / "specs" / "qa.yaml").resolve())

    def slots(name: str, out: Path) -> list[dict]:
        result = subprocess.run(
            [sys.executable, "-m", "cookbook", "generate", name, "-n", "3", "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        return [json.loads(line)["slots"] for line in out.read_text().splitlines()]

    by_relative = slots("specs/qa.yaml", tmp_path / "a.jsonl")
    by_absolute = slots(str(tmp_path / "specs" / "qa.yaml"), tmp_path / "b.jsonl")
    by_builtin = slots("document_qa", tmp_path / "c.jsonl")
    assert by_relative == by_absolute == by_builtin
