"""Writers and ``cookbook write-template``: the endpoint writer against a local fake server, the
transformers writer on a tiny Llama, the retry loop with a scripted writer and the real
sandboxed check, and the written package installed and listed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from cli_helpers import assert_clean, cli
from test_scaffold import cookbook, pip_install
from tiny_llama import build_tiny_llama

from cookbook import (
    CookbookError,
    TaskRecord,
    Writer,
    get_registry,
    spec_schema,
    template_from_spec,
)
from cookbook_plugins.template_writing import prompts, write
from cookbook_plugins.template_writing.writers import completions_url

SCRIPTED_WRITER = """
from cookbook import Params, hookimpl

REPLIES = []
SEEN = []


class Scripted:
    name = "scripted"
    description = "Replies from a script, for tests."

    def write(self, messages, *, note: str = ""):
        SEEN.append(messages)
        return REPLIES[len(SEEN) - 1]

    params = Params.of(write)


@hookimpl
def register_writers(register):
    register(Scripted())
"""

GOOD = '''
from cookbook import template


def _rule(slots):
    return " ".join(reversed(slots["words"].split()))


@template(family="composition", prompt="Reverse the words: {words}\\nAnswer:", rule=_rule)
def flip_words(rng, tokens, length: int = 4):
    """A few random tokens; the answer is them in reverse order."""
    return {"words": " ".join(tokens.draw(rng, length))}
'''

#: Refused by the check: its scorer wants the last token while its rule gives the first.
FAILS_ITS_SCORER = """
from cookbook import hookimpl, template


def _score(slots, output):
    return float(output == slots["words"].split()[-1])


@template(family="search", prompt="Pick: {words}\\nAnswer:", rule=lambda s: s["words"].split()[0],
          scorer=_score)
def pick_first(rng, tokens, length: int = 4):
    return {"words": " ".join(tokens.draw(rng, length))}


@hookimpl
def register_templates(register):
    register(pick_first)
"""

#: Answers the document's first word: a rule real QA records seldom follow.
LEAD_WORDS = """
from cookbook import template


def _rule(slots):
    return slots["document"].split()[0]


@template(family="selection", prompt="Context: {document}\\nQuestion: {question}\\nAnswer:",
          rule=_rule)
def lead_words(rng, tokens, length: int = 8):
    return {"document": tokens.text(rng, length), "question": tokens.text(rng, 2)}
"""

SPEC = """
spec: 1
name: reverse_spec
family: composition
params:
  length: {type: integer, minimum: 1, maximum: 50, default: 4}
draws:
  - {let: words, tokens: $length}
slots:
  words: {join: $words}
rule: {join: {reverse: $words}}
prompt: "Reverse: {words}\\nAnswer:"
scorer: exact
"""


def fenced(code: str, language: str = "python") -> str:
    return f"Here is the template.\n\n```{language}\n{code.strip()}\n```\nIt reverses words."


@pytest.fixture
def scripted(install_fake):
    """The scripted writer installed: set ``REPLIES``, read the messages it got in ``SEEN``."""
    install_fake("cookbook-writer-scripted", "scripted", SCRIPTED_WRITER)
    import cookbook_writer_scripted_plugin as module

    module.REPLIES.clear()
    module.SEEN.clear()
    return module


# --- the writers kind -------------------------------------------------------------------------


def test_the_built_in_writers_are_listed_and_in_the_schema():
    code, output = cli("list-plugins", "--json")
    rows = {row["name"]: row for row in json.loads(output)}
    assert rows["template_writing"]["components"]["writers"] == ["transformers", "openai"]
    assert "register_writers" in rows["template_writing"]["hooks"]
    for name in ("transformers", "openai"):
        assert isinstance(get_registry().get("writers", name), Writer)
    code, output = cli("schema")
    defs = json.loads(output)["$defs"]
    assert defs["writers.openai"]["properties"]["endpoint"]["type"] == "string"
    assert defs["writers.transformers"]["properties"]["max_new_tokens"]["minimum"] == 1


def test_a_misspelt_writer_gets_a_did_you_mean(tmp_path):
    code, output = cli(
        "write-template", "reverse words", "--writer", "opena", "-o", str(tmp_path / "x")
    )
    assert code == 1 and "unknown writer 'opena'; did you mean 'openai'?" in output
    assert_clean(output)


# --- the openai writer against a local fake server --------------------------------------------


class FakeEndpoint(BaseHTTPRequestHandler):
    """Answers by path: ``/v1/...`` a chat completion with ``server.reply``; ``/denied/...``
    HTTP 401; ``/text/...`` a body that is not JSON; ``/empty/...`` no choices."""

    def do_POST(self):  # noqa: N802 - the http.server interface
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, dict(self.headers), body))
        if self.path.startswith("/denied/"):
            status, payload = 401, b'{"error": "bad key"}'
        elif self.path.startswith("/text/"):
            status, payload = 200, b"<html>busy</html>"
        elif self.path.startswith("/empty/"):
            status, payload = 200, b'{"choices": []}'
        else:
            reply = {"choices": [{"message": {"role": "assistant", "content": self.server.reply}}]}
            status, payload = 200, json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    """A fake OpenAI-compatible server on 127.0.0.1: its base URL, requests and reply."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEndpoint)
    server.requests, server.reply = [], "hello"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_openai_writer_posts_the_messages_and_returns_the_reply(endpoint, monkeypatch):
    server, base = endpoint
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("COOKBOOK_WRITER_API_KEY", "sk-cookbook")
    writer = get_registry().get("writers", "openai")
    messages = [{"role": "user", "content": "Say hello."}]
    params = writer.params.resolve("writer", {"endpoint": base + "/v1", "model": "coder"})
    assert writer.write(messages, **params) == "hello"
    [(path, headers, body)] = server.requests
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-cookbook"  # Cookbook's own variable first
    assert body["model"] == "coder" and body["messages"] == messages
    assert body["temperature"] == 0.0 and body["max_tokens"] == 2048


def test_openai_writer_sends_no_key_when_none_is_set(endpoint, monkeypatch):
    server, base = endpoint
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("COOKBOOK_WRITER_API_KEY", raising=False)
    writer = get_registry().get("writers", "openai")
    assert writer.write([{"role": "user", "content": "hi"}], endpoint=base) == "hello"
    assert "Authorization" not in server.requests[0][1]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("/denied", 'answered HTTP 401 Unauthorized: {"error": "bad key"}'),
        ("/text", "answered with something that is not JSON"),
        ("/empty", "answered without choices[0].message.content"),
    ],
)
def test_openai_writer_failures_name_the_url(endpoint, prefix, expected):
    server, base = endpoint
    writer = get_registry().get("writers", "openai")
    with pytest.raises(CookbookError) as error:
        writer.write([{"role": "user", "content": "hi"}], endpoint=base + prefix + "/v1")
    assert f"writer 'openai': {base}{prefix}/v1/chat/completions " in str(error.value)
    assert expected in str(error.value)


def test_openai_writer_says_when_the_endpoint_cannot_be_reached(endpoint):
    server, base = endpoint
    server.shutdown()
    server.server_close()  # the port is closed now
    writer = get_registry().get("writers", "openai")
    with pytest.raises(CookbookError, match=r"cannot reach http://127\.0\.0\.1:\d+/v1/chat"):
        writer.write([{"role": "user", "content": "hi"}], endpoint=base, timeout=5)


def test_completions_urls():
    assert completions_url("http://h:1/v1") == "http://h:1/v1/chat/completions"
    assert completions_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert completions_url("http://h:1") == "http://h:1/v1/chat/completions"
    assert completions_url("https://h/x/chat/completions") == "https://h/x/chat/completions"
    with pytest.raises(CookbookError, match="not an http"):
        completions_url("h:1/v1")


def test_write_template_against_the_fake_endpoint(endpoint, tmp_path):
    server, base = endpoint
    server.reply = fenced(GOOD)
    out = tmp_path / "flip"
    code, output = cli(
        "write-template", "Reverse a few words.", "--endpoint", base, "--model", "coder",
        "--tries", "1", "--samples", "50", "-o", str(out),
    )  # fmt: skip
    assert code == 0, output
    assert "try 1/1: accepted" in output
    assert (out / "cookbook_template_flip_words" / "__init__.py").is_file()
    [(path, _, body)] = server.requests
    assert path == "/v1/chat/completions" and body["model"] == "coder"
    assert "Reverse a few words." in body["messages"][-1]["content"]
    readme = (out / "README.md").read_text()
    assert "the writer `openai` (model `coder`), accepted on try 1 of at most 1" in readme


# --- the transformers writer on a tiny Llama ---------------------------------------------------


@pytest.mark.parametrize("chat", [True, False])
def test_transformers_writer_replies_greedily_within_its_length(tmp_path, chat):
    words = ["reverse", "the", "words", "a", "b", "c", "User:", "Assistant:", "System:"]
    folder = build_tiny_llama(tmp_path / "tiny", words, chat=chat)
    writer = get_registry().get("writers", "transformers")
    messages = [
        {"role": "system", "content": "reverse the words"},
        {"role": "user", "content": "a b c"},
    ]
    params = writer.params.resolve("writer", {"model": str(folder), "max_new_tokens": 6})
    reply = writer.write(messages, **params)
    assert isinstance(reply, str) and len(reply.split()) <= 6
    assert set(reply.split()) <= set(words) | {"<|user|>", "<|assistant|>"}
    assert writer.write(messages, **params) == reply  # greedy: the same reply again


def test_transformers_writer_names_a_missing_model(tmp_path):
    writer = get_registry().get("writers", "transformers")
    with pytest.raises(CookbookError, match="no such folder"):
        writer.write([{"role": "user", "content": "hi"}], model=str(tmp_path / "none"))


# --- the retry loop with a scripted writer and the real check -----------------------------------


def test_a_refused_try_is_retried_with_the_checks_problems(scripted, tmp_path):
    scripted.REPLIES[:] = [fenced(FAILS_ITS_SCORER), fenced(GOOD)]
    out = tmp_path / "package"
    written = write.write_template(
        "Reverse a few words.", out, writer="scripted", tries=3, samples=50
    )
    first, second = written.attempts
    assert not first.accepted and first.report is not None and not first.report.accepted
    assert any("pick_first" in p for p in first.problems)
    assert second.accepted and written.report.templates == ["flip_words"]
    assert len(scripted.SEEN) == 2  # accepted on try 2: no third call
    retry = scripted.SEEN[1]
    assert retry[:2] == scripted.SEEN[0][:2]
    assert retry[2] == {"role": "assistant", "content": scripted.REPLIES[0]}
    for problem in first.problems:
        assert problem in retry[3]["content"]
    module = (out / "cookbook_template_flip_words" / "__init__.py").read_text()
    assert module.startswith(GOOD.strip()) and "def register_templates" in module
    readme = (out / "README.md").read_text()
    assert "accepted on try 2 of at most 3" in readme
    assert "Template check of cookbook_template_flip_words/__init__.py: ACCEPTED" in readme
    assert "written by a model and checked by Cookbook: `flip_words`." in readme
    assert "> Reverse a few words." in readme


def test_all_tries_refused_is_one_error_and_nothing_written(scripted, tmp_path):
    scripted.REPLIES[:] = ["I cannot write code.", fenced("def broken(:\n    pass")]
    out, transcript = tmp_path / "package", tmp_path / "tries.jsonl"
    code, output = cli(
        "write-template", "Reverse a few words.", "--writer", "scripted", "--tries", "2",
        "--samples", "50", "-o", str(out), "--transcript", str(transcript),
    )  # fmt: skip
    assert code == 1
    first, second = map(json.loads, transcript.read_text().splitlines())
    assert first["reply"] == "I cannot write code." and first["report"] is None
    assert second["messages"] == scripted.SEEN[1] and not second["report"]["accepted"]
    assert "try 1/2: refused" in output and "the reply has no ```python block" in output
    assert "no template was accepted in 2 tries; nothing was written to" in output
    assert "SyntaxError" in output or "syntax" in output.lower()
    assert not out.exists()
    assert not any(p.name.startswith(".package") for p in tmp_path.iterdir())
    assert "the reply has no ```python block" in scripted.SEEN[1][3]["content"]


def test_a_name_an_installed_plugin_uses_is_sent_back(scripted, tmp_path):
    taken = GOOD.replace("flip_words", "retrieval")
    scripted.REPLIES[:] = [fenced(taken), fenced(GOOD)]
    written = write.write_template(
        "Reverse words.", tmp_path / "p", writer="scripted", tries=2, samples=50
    )
    [problem] = written.attempts[0].problems
    assert "'retrieval' is already used by an installed plugin (retrieval)" in problem
    assert written.names.name == "flip_words"


def test_written_module_and_spec_packages_install_and_are_listed(scripted, tmp_path):
    scripted.REPLIES[:] = [fenced(GOOD), fenced(SPEC, "yaml")]
    module_package, spec_package = tmp_path / "module", tmp_path / "spec"
    write.write_template("Reverse words.", module_package, writer="scripted", samples=50)
    written = write.write_template(
        "Reverse words.", spec_package, writer="scripted", spec=True, samples=50
    )
    assert written.report.templates == ["reverse_spec"]
    assert (spec_package / "cookbook_template_reverse_spec" / "spec.yaml").read_text() == (
        SPEC.strip() + "\n"
    )
    assert "one ```yaml fenced block" in scripted.SEEN[1][0]["content"]  # asked for a spec
    env = pip_install(tmp_path / "site", module_package, spec_package)
    rows = {row["name"]: row for row in json.loads(cookbook(env, "list-plugins", "--json").stdout)}
    assert rows["flip_words"]["components"]["templates"] == ["flip_words"]
    assert rows["reverse_spec"]["components"]["templates"] == ["reverse_spec"]
    out = tmp_path / "samples.jsonl"
    made = cookbook(env, "generate", "flip_words", "reverse_spec", "-n", "4", "-o", str(out))
    assert made.returncode == 0, made.stderr
    for record in map(json.loads, out.read_text().splitlines()):
        assert record["slots"]["answer"].split() == record["slots"]["words"].split()[::-1]
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(module_package / "tests"), str(spec_package / "tests")],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr


QA_ROWS = [
    ("Paris is the capital of France", "What is the capital of France?", "Paris"),
    ("Rivers flow to the sea", "Where do rivers flow?", "the sea"),
    ("Honey is what bees make", "What do bees make?", "honey"),
    ("Owls hunt at night", "When do owls hunt?", "at night"),
]


def squad_file(path, rows=QA_ROWS):
    """A SQuAD-format file of (context, question, answer) rows."""
    paragraphs = [
        {"context": c, "qas": [{"id": f"q{i}", "question": q, "answers": [{"text": a}]}]}
        for i, (c, q, a) in enumerate(rows)
    ]
    path.write_text(json.dumps({"data": [{"title": "t", "paragraphs": paragraphs}]}))
    return path


def test_task_records_are_shown_and_their_alignment_reported(scripted, tmp_path):
    data = squad_file(tmp_path / "qa.json")
    scripted.REPLIES[:] = [fenced(LEAD_WORDS)]
    written = write.write_template(
        "Answer a question about a document.", tmp_path / "p", writer="scripted", samples=50,
        data=write.TaskData("squad", str(data)),
    )  # fmt: skip
    prompt = scripted.SEEN[0][1]["content"]
    assert "Real records of the task 'squad'" in prompt
    assert prompt.count('"answers"') == write.SHOWN_RECORDS
    assert "Paris is the capital of France" in prompt
    alignment = written.report.alignment
    assert alignment["records"] == 4
    assert alignment["mean"] == pytest.approx(0.5)  # "Paris" and "Honey" lead; the others not
    readme = (tmp_path / "p" / "README.md").read_text()
    assert "Task `squad`, 4 records: mean alignment 0.500" in readme


def test_an_occupied_folder_is_refused_before_the_writer_is_asked(scripted, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("")
    with pytest.raises(CookbookError, match="exists and is not an empty folder"):
        write.write_template("x", tmp_path / "taken", writer="scripted")
    assert scripted.SEEN == []


# --- what is taken from a reply -----------------------------------------------------------------


def test_extract_source():
    assert prompts.extract_source("```python\nx = 1\n```") == "x = 1"
    two = "```python\nx = 1\n```\ntext\n```python\ny = 2\nz = 3\n```"
    assert prompts.extract_source(two) == "y = 2\nz = 3"
    assert prompts.extract_source("```bash\npip x\n```\n```py\nx = 1\n```") == "x = 1"
    assert prompts.extract_source("```python\nx = 1\n") == "x = 1"  # cut off by the length
    assert prompts.extract_source("import x\nx = 1\n") == "import x\nx = 1"
    assert prompts.extract_source("I cannot write code: I am a language model.") is None
    assert prompts.extract_source("name: a\nrule: b", spec=True) == "name: a\nrule: b"
    assert prompts.extract_source("```\n```") is None
    spec = "```python\nx = 1\n```\n```yaml\nname: a\n```"
    assert prompts.extract_source(spec, spec=True) == "name: a"


def test_the_first_prompt_explains_the_contract_with_built_in_examples():
    system, user = prompts.first_messages("Sort the words.")
    assert system["role"] == "system" and user["role"] == "user"
    assert "register_templates" in system["content"]
    assert "def retrieval(" in system["content"]  # a built-in template's source
    assert user["content"] == "Write a template for this task: Sort the words."
    spec_system = prompts.first_messages("Sort the words.", spec=True)[0]["content"]
    assert "name: document_qa" in spec_system and len(spec_system) < 12000  # not the schema's JSON
    described = spec_schema()["$defs"]["expression"]["anyOf"][1]["properties"]
    for operator, value in described.items():  # the reference lists every primitive
        assert f"- {operator}: {value['description']}" in spec_system
    for kind in ("tokens", "distinct_tokens", "randint", "each", "repeat", "edit"):
        assert f"- {kind}: " in spec_system
    examples = re.findall(r"```yaml\n(.*?)```", spec_system, re.DOTALL)
    assert len(examples) == 3
    for text in examples:  # every example is a valid spec
        spec = yaml.safe_load(text)
        assert template_from_spec(spec).name == spec["name"]
    # records with Yes/No answers are shown comparisons only; other records no comparison
    yes_no = [TaskRecord(id="1", slots={"p": "a b c", "q": "a b"}, answers=["yes"])]
    names = [name for name, _ in prompts.spec_examples(yes_no)]
    assert names == ["coverage_80_a_b"]
    text = [TaskRecord(id="1", slots={"p": "a b c", "q": "a b"}, answers=["c"])]
    assert [name for name, _ in prompts.spec_examples(text)] == ["last_k2_text", "document_qa"]


def test_no_key_or_url_leaks_into_the_environment_of_the_check(monkeypatch):
    # the writer's key is read from the environment only when it posts
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    assert "sk-secret" not in json.dumps(get_registry().get("writers", "openai").params.schema)
    assert os.environ["OPENAI_API_KEY"] == "sk-secret"


def test_search_writes_the_best_spec_as_a_package(tmp_path):
    # every answer is the two words after the question's last word in the document
    rows = [
        ("the cat sat on the warm mat today", "the cat sat", "on the"),
        ("we walked along the river bank slowly", "we walked along", "the river"),
        ("my uncle plays old jazz songs loudly", "my uncle plays", "old jazz"),
        ("birds sing sweet songs at dawn", "birds sing", "sweet songs"),
        ("she reads long novels every night", "she reads", "long novels"),
    ]
    data = squad_file(tmp_path / "qa.json", rows)
    out = tmp_path / "searched"
    code, output = cli(
        "write-template", "--search", "--examples", str(data), "--task", "squad",
        "--budget", "40", "--samples", "50", "-o", str(out),
    )  # fmt: skip
    assert code == 0, output
    [module] = out.glob("cookbook_template_*")
    assert f"Template check of {module / 'spec.yaml'}: ACCEPTED" in output
    spec = module / "spec.yaml"
    assert spec.is_file() and "template_from_spec(SPEC)" in (module / "__init__.py").read_text()
    readme = (out / "README.md").read_text()
    assert "`cookbook write-template --search` over 5 records of the task `squad`" in readme
    assert "## The search's best specs" in readme and "| spec | alignment |" in readme
    assert "found by Cookbook's alignment-guided search" in readme
    assert f"Template check of {module.name}/spec.yaml: ACCEPTED" in readme
    assert "Task `squad`, 5 records: mean alignment 1.000" in readme


def test_search_needs_task_records(tmp_path):
    code, output = cli("write-template", "--search", "-o", str(tmp_path / "x"))
    assert code == 1 and "--search needs --examples FILE --task TYPE" in output
    assert_clean(output)


@pytest.mark.parametrize("asked", ["--rule", "--spec"])
def test_search_with_a_writer_mode_is_one_clear_error_not_a_silent_choice(asked, tmp_path):
    data = boolq_file(tmp_path / "boolq.jsonl")
    out = tmp_path / "x"
    code, output = cli(
        "write-template", "--search", asked, "--examples", str(data), "--task", "boolq",
        "-o", str(out),
    )  # fmt: skip
    assert code == 1 and f"--search asks no model, {asked} asks one: give one" in output
    assert not out.exists()
    assert_clean(output)


def test_retries_sample_with_their_own_seed():
    params = {"model": "m", "temperature": 0.0, "seed": 5}
    assert write.try_params(params, 1, 0.7) == params
    assert write.try_params(params, 3, 0.7) == {"model": "m", "temperature": 0.7, "seed": 7}
    assert write.try_params({"temperature": 1.2}, 2, 0.7) == {"temperature": 1.2}
    assert write.try_params({"note": ""}, 2, 0.7) == {"note": ""}  # no such parameters
    assert write.try_params(params, 2, None) == params


def test_search_and_check_read_the_split_they_are_given(tmp_path):
    """--split picks the records searched on (the check reports the same split); a spec found
    on train can be checked on test with check-template --split."""
    data = Path(__file__).parent / "fixtures" / "deepmatcher"
    out = tmp_path / "searched"
    code, output = cli(
        "write-template", "--search", "--examples", str(data), "--task", "deepmatcher",
        "--split", "train", "--budget", "20", "--samples", "50", "-o", str(out),
    )  # fmt: skip
    assert code == 0, output
    train_rows = len((data / "train.csv").read_text().strip().splitlines()) - 1
    assert f"alignment on {train_rows} records of task 'deepmatcher'" in output
    [spec] = out.glob("cookbook_template_*/spec.yaml")
    code, output = cli(
        "check-template", str(spec), "--task", "deepmatcher", "--task-path", str(data),
        "--split", "test", "--samples", "50",
    )  # fmt: skip
    test_rows = len((data / "test.csv").read_text().strip().splitlines()) - 1
    assert code == 0 and f"alignment on {test_rows} records of task 'deepmatcher'" in output
    code, output = cli("write-template", "--split", "train", "-o", str(tmp_path / "x"))
    assert code == 1 and "--split applies to --examples data only" in output


# --- --rule: the writer chooses a rule, Cookbook builds the spec -------------------------------


def boolq_file(path: Path) -> Path:
    """Six BoolQ-style records (lm-eval's boolq layout): yes exactly when the question's
    words are all in the passage."""
    rows = [
        ("the cat sat on the mat", "the cat sat", 1),
        ("rivers flow into the sea", "rivers flow", 1),
        ("a red bus stops here", "a red bus", 1),
        ("snow falls in winter", "does rain fall", 0),
        ("bread is made of flour", "is cheese made", 0),
        ("birds fly south", "do fish swim", 0),
    ]
    lines = [
        json.dumps({"query": f"Passage: {p}\nQuestion: {q}?", "choices": ["no", "yes"],
                    "gold": gold})
        for p, q, gold in rows
    ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_chosen_rule_is_validated_built_into_a_spec_and_checked(scripted, tmp_path):
    data = write.TaskData("boolq", str(boolq_file(tmp_path / "boolq.jsonl")))
    bad = '{"op": "coverage", "left": "claim", "right": "context", "threshold": 1.5}'
    good = '{"op": "coverage", "left": "question", "right": "context", "threshold": 0.9}'
    scripted.REPLIES[:] = [fenced(bad, "json"), fenced(good, "json")]
    written = write.write_template(
        "Is the question stated in the passage?", tmp_path / "p", writer="scripted", rule=True,
        samples=50, data=data,
    )  # fmt: skip
    chat = scripted.SEEN[0]
    assert "coverage: Yes when at least `threshold`" in chat[0]["content"]
    assert [m["role"] for m in chat[1:]] == ["user", "assistant"] * 3 + ["user"]  # worked examples
    assert "Its input slots are: context, question." in chat[-1]["content"]
    assert "Is the question stated in the passage?" in chat[-1]["content"]
    first, second = written.attempts
    assert first.report is None  # refused before any spec was built or checked
    assert "left: 'claim' is not one of ['context', 'question']" in first.problems
    assert "threshold: 1.5 is greater than the maximum of 0.99" in first.problems
    assert scripted.SEEN[1][:-2] == chat and scripted.SEEN[1][-2]["role"] == "assistant"
    retry = scripted.SEEN[1][-1]["content"]
    assert "refused this rule" in retry and all(p in retry for p in first.problems)
    assert second.accepted and written.report.templates == ["coverage_90_question_context"]
    spec = yaml.safe_load((written.folder / written.names.module / "spec.yaml").read_text())
    assert spec["rule"] == {
        "if": [{"ge": [{"coverage": ["$question", "$context"]}, "$threshold"]}, "yes", "no"]
    }
    assert spec["prompt"] == "{context}\nQuestion: {question}\nAnswer:"  # the task's own
    assert written.report.alignment["mean"] == 1.0  # the six records follow it
    readme = (written.folder / "README.md").read_text()
    assert "accepted on try 2 of at most 3" in readme and good in readme


def test_a_rule_without_records_names_its_own_slots(scripted, tmp_path):
    scripted.REPLIES[:] = ["no json here", fenced('{"op": "sort", "source": "words"}', "json")]
    written = write.write_template(
        "Sort the words alphabetically.", tmp_path / "p", writer="scripted", rule=True,
        samples=50,
    )  # fmt: skip
    assert written.attempts[0].problems == ["the reply has no ```json block with the rule"]
    template = template_from_spec(
        yaml.safe_load((written.folder / written.names.module / "spec.yaml").read_text())
    )
    from cookbook.engine import SampleMaker, resolve_token_space

    tokens = resolve_token_space("pseudowords", get_registry())
    slots = SampleMaker(template, template.name, template.resolve(), 0, tokens).record(0)["slots"]
    assert slots["answer"].split() == sorted(slots["words"].split())


def test_without_feedback_every_try_is_asked_afresh(scripted, tmp_path):
    scripted.REPLIES[:] = ["no json here", fenced('{"op": "reverse", "source": "words"}', "json")]
    written = write.write_template(
        "Reverse the words.", tmp_path / "p", writer="scripted", rule=True, samples=50,
        feedback=False,
    )  # fmt: skip
    assert len(written.attempts) == 2 and written.attempts[1].accepted
    assert scripted.SEEN[1] == scripted.SEEN[0]  # the same first chat, not the refused reply


def test_a_rule_over_a_slot_the_records_do_not_have_as_text_is_a_problem_not_a_crash():
    from cookbook_plugins.template_writing.rules import rule_messages, spec_from_choice

    numbers = [TaskRecord(id="1", slots={"x": 3, "y": [1, 2]}, answers=["4"])]
    assert "Its input slots are" not in rule_messages("Add them.", numbers)[-1]["content"]
    spec, problems = spec_from_choice('{"op": "reverse", "source": "x"}', numbers)
    assert spec is None
    assert problems == ["source: 'x' is not a text slot of the task's records (they have: none)"]
    # the slot names offered are the first answered record's, the one the shape is read off
    records = [
        TaskRecord(id="0", slots={"a": "p q"}, answers=[""]),
        TaskRecord(id="1", slots={"b": "p q r"}, answers=["r"]),
    ]
    assert "Its input slots are: b." in rule_messages("Last word.", records)[-1]["content"]
    spec, problems = spec_from_choice('{"op": "last", "source": "a", "k": 1}', records)
    assert spec is None and problems == ["source: 'a' is not one of ['b']"]
    spec, problems = spec_from_choice('{"op": "last", "source": "b", "k": 1}', records)
    assert problems == [] and yaml.safe_load(spec)["name"] == "last_k1_b"


def test_a_whole_number_k_written_as_a_float_builds_a_valid_spec():
    from cookbook_plugins.template_writing.rules import spec_from_choice

    choice = '{"op": "span", "document": "d", "question": "q", "side": "after", "k": 2.0}'
    spec, problems = spec_from_choice(choice)  # JSON Schema's integer takes 2.0
    assert problems == []
    template = template_from_spec(yaml.safe_load(spec))
    assert template.name == "span_after_k2_q_in_d" and template.resolve()["k"] == 2


def test_a_rule_in_valid_json_that_yaml_misreads_is_accepted():
    from cookbook_plugins.template_writing.rules import spec_from_choice

    tabbed = '{\n\t"op": "reverse",\n\t"source": "words"\n}'  # YAML refuses tab indents
    spec, problems = spec_from_choice(tabbed)
    assert problems == [] and yaml.safe_load(spec)["name"] == "reverse_words"
    exponent = '{"op": "coverage", "left": "a", "right": "b", "threshold": 9e-1}'  # YAML: a str
    spec, problems = spec_from_choice(exponent)
    assert problems == [] and yaml.safe_load(spec)["name"] == "coverage_90_a_b"
    spec, problems = spec_from_choice("{op: reverse, source: words}")  # quotes dropped: YAML
    assert problems == [] and yaml.safe_load(spec)["name"] == "reverse_words"
    spec, problems = spec_from_choice('{"op": "reverse", "source": "words"')
    assert spec is None and problems == [
        "the reply's block is not a JSON object: Expecting ',' delimiter: line 1 column 36"
        " (char 35)"
    ]


@pytest.mark.parametrize(
    ("reply", "kind"),
    [("[1, 2]", "an array"), ("null", "null"), ('"x"', "a string"), ("3", "a number")],
)
def test_a_rule_reply_that_is_not_an_object_is_named_in_json_words(reply, kind):
    from cookbook_plugins.template_writing.rules import spec_from_choice

    assert spec_from_choice(reply) == (None, [f"the reply's block is {kind}, not a JSON object"])


def test_a_chosen_slot_named_like_the_specs_own_values_is_sent_back(scripted, tmp_path):
    # "k" is the spec's own parameter, "answer" its output: the rule could not read such slots
    scripted.REPLIES[:] = [
        fenced('{"op": "first", "source": "k", "k": 2}', "json"),
        fenced('{"op": "reverse", "source": "answer"}', "json"),
        fenced('{"op": "first", "source": "words", "k": 2}', "json"),
    ]
    written = write.write_template(
        "The first two words.", tmp_path / "p", writer="scripted", rule=True, samples=50,
    )  # fmt: skip
    first, second, third = written.attempts
    assert first.report is None and first.problems[0].startswith(
        "source: slot 'k' has the name of one of the spec's parameters or its output"
    )
    assert "source: slot 'answer'" in second.problems[0]
    assert third.accepted
