"""The check's child process: ``python -I -B -c BOOTSTRAP CONFIG [IMPORT_ROOT ...]`` (see
``sandbox``), which calls ``main``.

It imports what the checks need, sets its resource limits and audit hook, and only then
imports the candidate. It reports on its standard output, one JSON object a line (``stage``,
``templates``, ``passed``, ``problem``, ``violation``, ``outcome``, ``done``); whatever the
candidate prints goes to standard error.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO


class Channel:
    """The line protocol back to the parent (the original standard output)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def send(self, **message: Any) -> None:
        self.stream.write(json.dumps(message, default=repr) + "\n")
        self.stream.flush()


def main(argv: list[str]) -> int:
    config = json.loads(Path(argv[1]).read_text())
    channel = Channel(os.fdopen(os.dup(1), "w", encoding="utf-8"))
    os.dup2(2, 1)  # the candidate's prints go to standard error
    sys.stdout = sys.stderr
    try:
        _prepare(config)
        from cookbook.engine.template_check import guard
        from cookbook.engine.token_spaces import builtin_token_space

        tokens = builtin_token_space("pseudowords")
        tokens.words  # noqa: B018 - the vocabulary is the checker's, built before the limits
        candidate = Path(config["path"])
        own_folder = str(candidate if candidate.is_dir() else candidate.parent)
        from cookbook.engine.template_check import candidate as candidates

        candidates.CANDIDATE_ROOTS.append(own_folder)
        limits = guard.set_limits(config["memory_limit"], config["time_limit"])
        channel.send(limits=limits)
        guard.forget_native_modules()
        sandbox = guard.Guard(
            config["work"],
            [*guard.python_roots(), own_folder],
            lambda kind, detail: channel.send(violation=kind, detail=detail),
        )
        sandbox.install()
        _run(config, tokens, channel)
    except MemoryError:
        channel.send(memory=True)
        return 3
    except Exception as exc:  # a failure of the check itself on this candidate
        from cookbook.engine.template_check.candidate import describe

        channel.send(problem=f"the check could not finish: {describe(exc)}")
        return 4
    channel.send(done=True)
    return 0


def _prepare(config: dict[str, Any]) -> None:
    """Import what the checks use while nothing is limited yet (numpy: the sample makers and
    candidates may use it; it also imports ctypes, which the guard then forgets)."""
    with contextlib.suppress(ImportError):
        import numpy  # noqa: F401
    import cookbook.engine.alignment
    import cookbook.engine.samples
    import cookbook.engine.template_check.checks  # noqa: F401

    if config.get("task"):
        import cookbook.engine.mixing.sources  # noqa: F401
    if config["kind"] == "spec":
        import cookbook

        if hasattr(cookbook, "template_from_spec"):
            import yaml  # noqa: F401


def _run(config: dict[str, Any], tokens: Any, channel: Channel) -> None:
    from cookbook.engine.template_check import checks
    from cookbook.engine.template_check.candidate import CandidateError, load_candidate

    path = Path(config["path"])
    channel.send(stage=f"importing {path.name}")
    try:
        loaded = load_candidate(path, config["kind"])
    except CandidateError as exc:
        channel.send(problem=str(exc))
        return
    names = [t.name for t in loaded.templates]
    channel.send(templates=names, sources=loaded.sources)
    if not names:
        channel.send(
            problem=f"{path.name} exposes no template: define one at module level with"
            " @cookbook.template (or make a cookbook.Template), or register it from a"
            " register_templates(register) function marked @cookbook.hookimpl"
        )
        return
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        channel.send(problem=f"several templates are named {', '.join(map(repr, twice))}")
    samples = config["samples"]
    for template in loaded.templates:
        out = checks.Outcome()
        if config["mode"] == "fingerprint":
            _fingerprint(template, config, tokens, out, channel)
            channel.send(outcome=template.name, hashes=out.hashes, lines=out.lines)
            continue
        params = checks.resolved_params(template, config.get("params") or {}, out)
        if params is not None:
            records = checks.check_samples(
                template, params, tokens, samples, out, lambda s: channel.send(stage=s)
            )
            if records is not None:
                channel.send(stage=f"scoring the samples of template {template.name!r}")
                checks.check_own_scores(template, params, records, out)
            if config.get("task"):
                channel.send(stage=f"scoring the task's records under {template.name!r}")
                checks.task_alignment(template, params, config["task"], out)
        for line in out.passed:
            channel.send(passed=line)
        for line in out.problems:
            channel.send(problem=line)
        channel.send(
            outcome=template.name, hashes=out.hashes, lines=out.lines, alignment=out.alignment
        )


def _fingerprint(
    template: Any, config: dict[str, Any], tokens: Any, out: Any, channel: Channel
) -> None:
    """Only the samples (seed 0), for the parent to compare with the other process's."""
    from cookbook.contract.errors import CookbookError
    from cookbook.engine.template_check import checks

    try:
        params = template.resolve(config.get("params") or {})
    except CookbookError:
        return
    channel.send(stage=f"making {config['samples']} samples of template {template.name!r} (seed 0)")
    try:
        lines = checks.make_lines(template, params, tokens, 0, config["samples"])
    except checks.SampleFailure:
        return
    import hashlib

    out.lines = [line[:400] for line in lines[: checks.SHOWN]]
    out.hashes = [hashlib.sha256(line.encode()).hexdigest()[:16] for line in lines]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
