"""The corpus of nasty pipeline files (``tests/fixtures/bad/``): ``cookbook validate`` answers
each with one clear error naming the file (and line), never a traceback, an exception class,
a hang or a write. A new file in the corpus needs its expected message here."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import assert_clean, cli

BAD = Path(__file__).parent / "fixtures" / "bad"

#: File -> fragments its error must contain (after "Error: FILE:LINE: ").
EXPECTED = {
    "alias_bomb.yaml": [":8: the document holds more than 100,000 values (aliases expanded)"],
    "alias_cycle.yaml": [":3: alias *a refers to a value that contains it (a cycle)"],
    "bad_int_tag.yaml": [":7: 'five' is not a valid !!int"],
    "binary.yaml": [": holds a NUL byte: a binary file, not YAML text"],
    "binary_tag.yaml": [":7: the tag !!binary is not allowed: a pipeline holds only strings"],
    "comments_only.yaml": [":1: the file holds no YAML document"],
    "control_character.yaml": [":1: character U+0001 at column 8 is not allowed in YAML text"],
    "deep_flow.yaml": [":3: values nest more than 100 levels deep"],
    "deep_nesting.yaml": [":3: values nest more than 100 levels deep"],
    "duplicate_key.yaml": [":8: key 'generate' appears twice in one mapping (first on line 6)"],
    "empty.yaml": [":1: the file holds no YAML document"],
    "huge_name.yaml": [
        ":1: name: 'nnnnnnnn",
        "(222 more characters) is too long: a name has at most 200 characters",
    ],
    "latin1.yaml": [":1: not UTF-8 text (byte 0xe9 at column 10): save it as UTF-8"],
    "list.yaml": [":1: a pipeline is a mapping of keys (name, templates, ...), not a list"],
    "mapping_key.yaml": [":8: keys are names, not a mapping"],
    "markup_name.yaml": [":4: templates[0].name: unknown template '[bold red]x[/]'"],
    "merge_chain.yaml": ["values nest more than 100 levels deep (through alias *m"],
    "name_mapping.yaml": [":4: templates[0].name: a mapping is not of type 'string'"],
    "non_string_keys.yaml": [
        "3 errors in non_string_keys.yaml",
        ":7: generate: keys are names, not 1: quote it ('1') to use it as a name",
        ":9: (top level): keys are names, not on, which YAML reads as true",
        ":10: (top level): keys are names, not ~, which YAML reads as null",
    ],
    "python_tag.yaml": [
        ":7: could not determine a constructor for the tag !!python/object/apply:os.system",
        "(YAML tags that build Python objects are not allowed)",
    ],
    "scalar.yaml": [":1: a pipeline is a mapping of keys (name, templates, ...), not the value"],
    "step_kind_list.yaml": [":5: steps[0].kind: a list is not of type 'string'"],
    "two_documents.yaml": [":8: malformed YAML: a pipeline file holds one YAML document"],
    "undefined_alias.yaml": [":7: malformed YAML: found undefined alias 'five'"],
    "utf16.yaml": [": UTF-16 text: save it as UTF-8"],
}


def test_every_file_in_the_corpus_has_its_expected_message():
    assert sorted(p.name for p in BAD.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validate_answers_each_bad_file_with_one_clear_error(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative output folder would land here
    path = BAD / name
    start = time.monotonic()
    code, output = cli("validate", str(path))
    assert time.monotonic() - start < 10
    assert code == 1, output
    assert output.startswith(f"Error: {path}") or output.startswith("Error: ")
    assert str(path) in output
    for fragment in EXPECTED[name]:
        assert fragment in output, f"{fragment!r} not in:\n{output}"
    assert_clean(output)
    assert list(tmp_path.iterdir()) == [] and not (BAD / "out").exists()


@pytest.mark.parametrize("name", ["deep_flow.yaml", "alias_bomb.yaml", "binary.yaml"])
def test_the_console_script_answers_the_worst_files_quickly(name):
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "cookbook", "validate", str(BAD / name)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - start < 30
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and EXPECTED[name][0] in result.stderr
    assert_clean(result.stderr + result.stdout)
