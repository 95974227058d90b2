"""The sandbox's outside: start the check's child process in a clean environment and a fresh
folder, stop it (its whole process group) at the time limit, and read what it reported."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The child's first line: the folders Cookbook was imported from here go at the end of its
#: ``sys.path`` (``-I`` leaves out user site-packages and ``PYTHONPATH``, where it may live).
_BOOTSTRAP = (
    "import sys; sys.path += sys.argv[2:]; "
    "from cookbook.engine.template_check.child import main; sys.exit(main(sys.argv[:2]))"
)
#: What the child's environment holds: nothing from the caller's (no keys, no proxies).
_ENVIRONMENT = {
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PATH": "/nonexistent",
}
_STDERR_SHOWN = 1500


@dataclass
class ChildRun:
    """What one child reported (its JSON lines), how it ended, and the tail of its stderr."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    returncode: int | None = None
    timed_out: bool = False
    stderr: str = ""
    seconds: float = 0.0

    def last(self, key: str) -> Any:
        """The last value reported under ``key`` (None if none)."""
        return next((m[key] for m in reversed(self.messages) if key in m), None)

    def all(self, key: str) -> list[Any]:
        """Every value reported under ``key``, in order."""
        return [m[key] for m in self.messages if key in m]

    @property
    def finished(self) -> bool:
        return any(m.get("done") for m in self.messages)


class Child:
    """One running child, its folder and its output files."""

    def __init__(self, config: dict[str, Any], folder: Path, name: str) -> None:
        self.folder = folder
        work = folder / f"{name}-work"
        work.mkdir()
        config = {**config, "work": str(work)}
        config_path = folder / f"{name}-config.json"
        config_path.write_text(json.dumps(config))
        self.out_path, self.err_path = folder / f"{name}.out", folder / f"{name}.err"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            env = {**_ENVIRONMENT, "HOME": str(work), "TMPDIR": str(work)}
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", _BOOTSTRAP, str(config_path), *import_roots()],
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                close_fds=True,
            )
        self.started = time.monotonic()

    def wait(self, deadline: float) -> ChildRun:
        """Wait until the child ends or ``deadline`` (monotonic) passes, then kill its group."""
        run = ChildRun()
        try:
            run.returncode = self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            run.timed_out = True
            self.kill()
            run.returncode = self.process.wait()
        run.seconds = time.monotonic() - self.started
        run.messages = _read_lines(self.out_path)
        run.stderr = _tail(self.err_path)
        return run

    def kill(self) -> None:
        """Kill the child's whole process group (it may have started nothing, but be sure)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def import_roots() -> list[str]:
    """The folders this process imports Cookbook from, and user site-packages when enabled:
    what a child started with ``-I`` may lack."""
    import site

    import cookbook

    roots = [os.path.dirname(p) for p in cookbook.__path__]
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        roots.append(site.getusersitepackages())
    return list(dict.fromkeys(roots))


def run_children(
    configs: dict[str, dict[str, Any]], folder: Path, time_limit: float
) -> dict[str, ChildRun]:
    """Run one child per config at once, each under ``time_limit`` seconds."""
    children: dict[str, Child] = {}
    try:
        for name, config in configs.items():
            children[name] = Child(config, folder, name)
        deadline = {n: c.started + time_limit for n, c in children.items()}
        return {name: child.wait(deadline[name]) for name, child in children.items()}
    finally:
        for child in children.values():
            if child.process.poll() is None:
                child.kill()
                child.process.wait()


def _read_lines(path: Path) -> list[dict[str, Any]]:
    messages = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return messages
    for line in text.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict):
            messages.append(message)
    return messages


def _tail(path: Path) -> str:
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            file.seek(max(0, size - _STDERR_SHOWN))
            return file.read().decode("utf-8", errors="replace").strip()
    except OSError:
        return ""
