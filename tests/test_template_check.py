"""The sandboxed template check (issue 23): good written templates are accepted, each bad one
is refused with its reason, and the candidate never runs in this process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cli_helpers import cli

from cookbook import CookbookError
from cookbook.engine import check_template

FIXTURES = Path(__file__).parent / "fixtures" / "written_templates"
REPO = Path(__file__).resolve().parents[1]
TYDIQA = REPO / "examples" / "data" / "tydiqa_english_dev_100.json"
#: Few samples where the number does not matter (each check runs two child processes).
FEW = 30


def check(name: str, **options) -> object:
    return check_template(FIXTURES / name, **{"samples": FEW, **options})


def test_a_good_module_is_accepted_with_every_check_passed():
    report = check("good_reverse.py", samples=300)
    assert report.accepted, report.text()
    assert report.templates == ["reverse_words"]
    assert report.problems == []
    passed = "\n".join(report.passed)
    assert "its parameter defaults validate" in passed
    assert "300 samples made" in passed
    assert "all 300 samples score 1.0" in passed
    assert "seeds 0 and 1 differ" in passed
    assert "two separate processes make the same 300 samples" in passed
    assert report.alignment is None
    if sys.platform == "linux":
        assert {"RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_CPU"} <= set(report.limits["enforced"])
    assert report.text().startswith(f"Template check of {FIXTURES / 'good_reverse.py'}: ACCEPTED")
    assert json.loads(json.dumps(report.to_json()))["accepted"] is True


@pytest.mark.parametrize(
    ("fixture", "reasons"),
    [
        ("nondeterministic.py", ["is not deterministic", "made again in the same process"]),
        ("process_dependent.py", ["differs between two separate Python processes", "hash()"]),
        ("ignores_seed.py", ["seeds 0 and 1 give the same"]),
        ("failing_scorer.py", ["must score 1.0 under its scorer", f"{FEW} of {FEW} do not"]),
        ("network.py", ["it used the network", "socket.connect ('127.0.0.1', 9)"]),
        ("subprocess_call.py", ["start or signal another process", "subprocess.Popen"]),
        ("read_outside.py", ["read a file outside its own folder", "/etc/hosts"]),
        ("native_code.py", ["native code", "import ctypes"]),
        ("wrong_signature.py", ["takes 1 positional argument", "fn(rng, tokens, **params)"]),
        ("no_template.py", ["no_template.py exposes no template"]),
        ("bad_defaults.py", ["defaults do not satisfy its own parameter schema", "minimum of 1"]),
        ("empty_output.py", ["must be a non-empty string, not ''"]),
    ],
)
def test_a_bad_module_is_refused_with_its_reason(fixture, reasons):
    report = check(fixture)
    assert not report.accepted
    problems = "\n".join(report.problems)
    for reason in reasons:
        assert reason in problems, problems
    assert "REFUSED" in report.text()


def test_a_file_written_outside_the_temporary_folder_is_refused_and_never_written():
    escaped = FIXTURES / "file_write.out"
    report = check("file_write.py")
    assert not report.accepted
    assert "write a file outside its temporary folder" in "\n".join(report.problems)
    assert str(escaped) in "\n".join(report.problems)
    assert not escaped.exists()


def test_writing_in_its_own_temporary_folder_is_allowed():
    report = check("temp_write.py")
    assert report.accepted, report.text()
    assert not (FIXTURES / "scratch.txt").exists()


def test_an_infinite_loop_is_stopped_at_the_time_limit():
    report = check("infinite_loop.py", time_limit=2)
    assert not report.accepted
    assert any(
        "stopped at the time limit (2 s) while making" in p and "'forever'" in p
        for p in report.problems
    ), report.problems


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux only")
def test_a_memory_bomb_is_stopped_at_the_memory_limit():
    report = check("memory_bomb.py", memory_limit=128 << 20)
    assert not report.accepted
    assert any(
        "ran out of memory (the limit is 128 MiB" in p and "'hoard'" in p for p in report.problems
    ), report.problems


def test_a_syntax_error_is_refused_with_its_line(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("from cookbook import template\n\ndef f(rng, tokens:\n    return {}\n")
    report = check_template(broken, samples=FEW)
    assert not report.accepted
    assert report.templates == []
    assert "importing broken.py failed: SyntaxError at broken.py, line 3" in report.problems[0]


def test_a_prompt_that_gives_the_answer_away_or_shows_no_input_is_refused(tmp_path):
    module = tmp_path / "prompts.py"
    module.write_text(
        "from cookbook import template\n\n\n"
        "def rule(slots):\n"
        '    return slots["words"].split()[0]\n\n\n'
        '@template(family="search", prompt="{words} is {answer}", rule=rule)\n'
        "def leaks(rng, tokens):\n"
        '    return {"words": " ".join(tokens.draw(rng, 3))}\n\n\n'
        '@template(family="search", prompt="Answer:", rule=rule, slots=("words", "answer"))\n'
        "def blind(rng, tokens):\n"
        '    return {"words": " ".join(tokens.draw(rng, 3))}\n'
    )
    report = check_template(module, samples=FEW)
    assert report.templates == ["leaks", "blind"]
    problems = "\n".join(report.problems)
    assert "template 'leaks': its prompt format '{words} is {answer}' shows the output" in problems
    assert "template 'blind': its prompt format 'Answer:' shows none of its input" in problems


def test_a_plugin_package_folder_is_checked_through_its_entry_point():
    report = check("good_package")
    assert report.accepted, report.text()
    assert report.templates == ["shout"]


def test_a_packages_init_module_is_checked_with_its_relative_imports():
    report = check("good_package/shout_plugin/__init__.py")
    assert report.accepted, report.text()
    assert report.templates == ["shout"]


def test_a_package_without_a_cookbook_entry_point_is_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    report = check_template(tmp_path, samples=FEW)
    assert not report.accepted
    assert "declares no [project.entry-points.cookbook] entry point" in report.problems[0]


def test_a_spec_file_is_accepted_and_a_bad_one_refused(tmp_path):
    report = check_template(REPO / "examples" / "specs" / "document_qa.yaml", samples=FEW)
    assert report.accepted, report.text()
    assert report.templates == ["document_qa"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: nothing\n")
    report = check_template(bad, samples=FEW)
    assert not report.accepted
    assert "bad.yaml: not a valid template spec" in report.problems[0]


def test_task_records_give_the_same_alignment_as_cookbook_score():
    from cookbook.engine.alignment import alignment_scores, gold_answers, summarize
    from cookbook.registry import get_registry

    params = {"side": "after", "k": 2}
    report = check_template(
        REPO / "plugins" / "qa" / "document_qa.py",
        task="squad",
        task_path=str(TYDIQA),
        params=params,
        samples=FEW,
    )
    assert report.accepted, report.text()
    registry = get_registry()
    records = list(registry.get("tasks", "squad").read(str(TYDIQA)))
    expected = summarize(
        alignment_scores(
            registry.get("templates", "document_qa"),
            [r.slots for r in records],
            [gold_answers(r.answers) for r in records],
            params,
        )
    )
    alignment = report.alignment
    assert alignment["task"] == "squad" and alignment["template"] == "document_qa"
    assert alignment["records"] == expected.n == 100
    assert alignment["mean"] == pytest.approx(expected.statistic, abs=1e-12)
    assert 0 < alignment["aligned"] < 1
    assert f"mean {expected.statistic:.4f}" in report.text()


def test_a_scorer_that_needs_hidden_slots_is_refused_on_task_records(tmp_path):
    module = tmp_path / "hidden.py"
    module.write_text(
        "from cookbook import template\n\n\n"
        "def _rule(slots):\n"
        '    return slots["document"].split()[slots["position"]]\n\n\n'
        '@template(family="search", prompt="{document} {question}", rule=_rule,\n'
        '          slots=("document", "question", "position", "answer"))\n'
        "def at_position(rng, tokens, length: int = 8):\n"
        "    words = tokens.draw(rng, length)\n"
        "    position = rng.randrange(length)\n"
        '    return {"document": " ".join(words), "question": words[position],'
        ' "position": position}\n'
    )
    report = check_template(module, task="squad", task_path=str(TYDIQA), samples=FEW)
    assert not report.accepted
    assert "its scorer fails on the task's records" in "\n".join(report.problems)
    assert "no slot 'position'" in "\n".join(report.problems)


def test_the_candidate_is_never_imported_in_the_callers_process():
    before = set(sys.modules)
    for name in ("good_reverse.py", "file_write.py", "good_package"):
        check(name)
    new = set(sys.modules) - before
    assert not [m for m in new if "candidate" in m or m == "shout_plugin"], new
    files = [str(getattr(m, "__file__", "")) for m in list(sys.modules.values())]
    assert not [f for f in files if f.startswith(str(FIXTURES))]


def test_bad_arguments_are_one_error_naming_them(tmp_path):
    with pytest.raises(CookbookError, match="no such file or folder"):
        check_template(tmp_path / "missing.py")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(CookbookError, match="check a Python module"):
        check_template(tmp_path / "notes.txt")
    with pytest.raises(CookbookError, match="give both --task"):
        check_template(FIXTURES / "good_reverse.py", task="squad")


def test_the_cli_prints_the_report_and_exits_non_zero_when_it_refuses():
    code, output = cli("check-template", str(FIXTURES / "good_reverse.py"), "--samples", "30")
    assert code == 0, output
    assert "ACCEPTED" in output and "reverse_words" in output
    code, output = cli(
        "check-template", str(FIXTURES / "empty_output.py"), "--samples", "30", "--json"
    )
    assert code == 2, output
    report = json.loads(output)
    assert report["accepted"] is False
    assert "must be a non-empty string" in report["problems"][0]
    code, output = cli(
        "check-template",
        str(FIXTURES / "good_reverse.py"),
        "--samples",
        "30",
        "--task",
        "squad",
        "--task-path",
        str(TYDIQA),
        "-t",
        "length=3",
    )
    assert code == 0, output
    assert "alignment of task 'squad' under 'reverse_words'" in output
    code, output = cli("check-template", str(FIXTURES / "missing.py"))
    assert code == 1 and "no such file or folder" in output
