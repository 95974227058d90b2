"""Plugin loading: errors are contained, selection variables, clashes and qualified names."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cookbook.cli import app
from cookbook.contract.components import KINDS
from cookbook.contract.errors import CookbookError, PluginClashError
from cookbook.registry import get_registry, reset_registry

TWIN = """
from cookbook import hookimpl, template

@template(prompt="{words}", rule=lambda slots: "ANSWER")
def twin(rng, tokens):
    return {"words": tokens.text(rng, 3)}

@hookimpl
def register_templates(register):
    register(twin)
"""


def _by_name(registry):
    return {p.name: p for p in registry.plugins}


def test_builtin_plugins_load_through_entry_points():
    registry = get_registry()
    info = _by_name(registry)["qa"]
    assert info.status == "ok"
    assert info.distribution == "cookbook-llm"
    assert info.hooks == ["register_tasks", "register_templates"]
    assert info.components["templates"] == ["document_qa", "typed_qa"]
    assert info.components["tasks"] == ["squad"]
    families = {"qa", "multiple_choice", "fill_in_the_blank", "entity_matching", "poetry"}
    families |= {"entity_disambiguation", "retrieval", "mixers", "lora"}
    assert families <= {p.name for p in registry.plugins if p.status == "ok"}


def test_plugin_raising_on_import_is_reported_and_others_work(install_fake):
    install_fake("cookbook-template-broken", "broken", "raise RuntimeError('boom at import')\n")
    registry = get_registry()
    broken = _by_name(registry)["broken"]
    assert broken.status == "error: RuntimeError: boom at import"
    assert broken.version == "1.2.3"
    assert registry.get("templates", "document_qa").name == "document_qa"


def test_plugin_raising_in_its_hook_is_reported_without_partial_components(install_fake):
    install_fake(
        "cookbook-template-halfway",
        "halfway",
        TWIN.replace("ANSWER", "x").replace(
            "    register(twin)", "    register(twin)\n    raise ValueError('second fails')"
        ),
    )
    registry = get_registry()
    info = _by_name(registry)["halfway"]
    assert info.status == "error: ValueError: second fails"
    assert "twin" not in registry.names("templates")
    assert info.components["templates"] == []


def test_list_plugins_shows_broken_plugin_without_traceback(install_fake):
    install_fake("cookbook-template-broken", "broken", "import not_a_module_anywhere\n")
    result = CliRunner().invoke(app, ["list-plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["broken"]["status"].startswith("error: ModuleNotFoundError")
    assert rows["qa"]["status"] == "ok"
    assert set(rows["qa"]["components"]) == set(KINDS)
    assert "Traceback" not in result.output


def test_strict_mode_reraises(install_fake, monkeypatch):
    install_fake("cookbook-template-broken", "broken", "raise RuntimeError('boom')\n")
    monkeypatch.setenv("COOKBOOK_STRICT_PLUGINS", "1")
    with pytest.raises(RuntimeError, match="boom"):
        get_registry()


def test_load_list_selects_plugins(install_fake, monkeypatch):
    install_fake("cookbook-template-twin", "twin", TWIN.replace("ANSWER", "a"))
    monkeypatch.setenv("COOKBOOK_LOAD_PLUGINS", "twin")
    assert [p.name for p in get_registry().plugins] == ["twin"]
    reset_registry()
    monkeypatch.setenv("COOKBOOK_LOAD_PLUGINS", "")
    assert get_registry().plugins == []


def test_disable_list_skips_plugins(monkeypatch):
    monkeypatch.setenv("COOKBOOK_DISABLE_PLUGINS", "qa")
    registry = get_registry()
    assert "qa" not in [p.name for p in registry.plugins]
    with pytest.raises(CookbookError, match="unknown template 'document_qa'"):
        registry.get("templates", "document_qa")


def test_name_clash_names_both_distributions_and_qualified_name_picks(install_fake):
    install_fake(
        "cookbook-template-one", "one", TWIN.replace("ANSWER", "from one"), module="one_mod"
    )
    install_fake(
        "cookbook-template-two", "two", TWIN.replace("ANSWER", "from two"), module="two_mod"
    )
    registry = get_registry()
    with pytest.raises(PluginClashError) as err:
        registry.get("templates", "twin")
    message = str(err.value)
    assert "cookbook-template-one" in message and "cookbook-template-two" in message
    assert "'one:twin'" in message
    assert registry.get("templates", "two:twin").rule({}) == "from two"
    assert registry.plugin_of("templates", "one:twin").distribution == "cookbook-template-one"


def test_unknown_name_suggests_the_closest():
    with pytest.raises(CookbookError, match="did you mean 'document_qa'"):
        get_registry().get("templates", "documnt_qa")


def test_generate_still_works_with_a_broken_plugin(install_fake, tmp_path):
    install_fake("cookbook-template-broken", "broken", "raise RuntimeError('boom')\n")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        app, ["generate", "document_qa", "-n", "5", "-o", str(out), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 5


@pytest.mark.parametrize(
    ("name", "main", "defaults"),
    [
        ("squad", "f1", {}),
        ("cloze", "accuracy", {}),
        ("multiple_choice", "accuracy", {}),
        ("deepmatcher", "f1", {"exclude": []}),
        ("elevant", "accuracy", {"candidates": 4, "window": 60, "related": 8}),
        ("rhyme", "follows_scheme", {"min_lines": 2, "max_lines": 16}),
    ],
)
def test_builtin_tasks_declare_their_main_metric_and_reader_parameters(name, main, defaults):
    from cookbook import Task, setting
    from cookbook.engine import task_params

    task = get_registry().get("tasks", name)
    assert isinstance(task, Task)
    assert task.main_metric == main and main in task.metric([], [])
    assert setting(task, "higher_is_better", "tasks") is True
    resolved = task_params(task, None)
    assert "prompt" not in resolved and defaults.items() <= resolved.items()
    assert task_params(task, {"prompt": "{question}"})["prompt"] == "{question}"
    with pytest.raises(CookbookError, match=f"task '{name}': promt: unknown parameter"):
        task_params(task, {"promt": "x"})


WRAPPERS = """
from cookbook import hookimpl


@hookimpl(wrapper=True)
def register_templates(register):
    yield
    raise RuntimeError("after the others registered")
"""

CALM_WRAPPER = """
from cookbook import hookimpl

seen = []


@hookimpl(wrapper=True)
def register_templates(register):
    result = yield
    seen.append("wrapped")
    return result
"""


def test_a_hook_wrapper_that_raises_fails_alone_and_registers_nothing_twice(install_fake):
    install_fake("cookbook-bad-wrapper", "badwrap", WRAPPERS)
    install_fake("cookbook-calm-wrapper", "calmwrap", CALM_WRAPPER)
    registry = get_registry()
    plugins_by_name = _by_name(registry)
    assert plugins_by_name["badwrap"].status == ("error: RuntimeError: after the others registered")
    assert plugins_by_name["calmwrap"].status == "ok"
    assert registry.get("templates", "document_qa").name == "document_qa"
    assert not registry.clashes()
    assert plugins_by_name["qa"].components["templates"] == ["document_qa", "typed_qa"]


def test_tryfirst_orders_plugins_through_pluggy(install_fake):
    order = """
from cookbook import hookimpl, template

@template(prompt="{words}", rule=lambda slots: "x")
def NAME(rng, tokens):
    return {"words": tokens.text(rng, 2)}

@hookimpl(MARK)
def register_templates(register):
    register(NAME)
"""
    install_fake("cookbook-late", "late", order.replace("NAME", "late").replace("MARK", ""))
    install_fake(
        "cookbook-early", "early", order.replace("NAME", "early").replace("MARK", "tryfirst=True")
    )
    names = get_registry().names("templates")
    added = [entry for kind, name, entry in get_registry()._added if kind == "templates"]
    assert "early" in names and "late" in names
    assert added[0].plugin.name == "early"
