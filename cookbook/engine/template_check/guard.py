"""The sandbox's inside: resource limits and an audit hook, installed in the check's child
process before the candidate is imported.

The hook refuses network connections and name lookups, new processes, signals to other
processes, native code through ``ctypes``, changes to the limits, opening files for writing
outside the work folder, and opening files for reading outside the folders Python and Cookbook
load from, the candidate's own folder and the work folder. Every refusal is also reported
through ``report``, so a candidate that catches the exception is still refused. Audit hooks are
a tripwire, not a wall: see docs/automatic-templates.md, "The check".
"""

from __future__ import annotations

import os
import resource
import signal
import sys
from collections.abc import Callable, Iterable
from typing import Any


class SandboxViolation(PermissionError):
    """What the audit hook raises for an operation the sandbox refuses."""


_NETWORK = {
    "socket.bind",
    "socket.connect",
    "socket.getaddrinfo",
    "socket.gethostbyaddr",
    "socket.gethostbyname",
    "socket.sendmsg",
    "socket.sendto",
}
_PROCESSES = {
    "os.exec",
    "os.fork",
    "os.forkpty",
    "os.posix_spawn",
    "os.spawn",
    "os.startfile",
    "os.system",
    "subprocess.Popen",
}
_NATIVE = {
    "ctypes.addressof",
    "ctypes.call_function",
    "ctypes.cdata",
    "ctypes.create_string_buffer",
    "ctypes.create_unicode_buffer",
    "ctypes.dlopen",
    "ctypes.dlsym",
    "ctypes.dlsym/handle",
    "ctypes.PyObj_FromPtr",
    "ctypes.string_at",
    "ctypes.wstring_at",
}
_NATIVE_MODULES = ("ctypes", "_ctypes", "cffi", "_cffi_backend")
_LIMITS = {"resource.prlimit", "resource.setrlimit"}
#: Events that change the file system, and which of their arguments are paths.
_FILE_CHANGES = {
    "os.chflags": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.link": (0, 1),
    "os.mkdir": (0,),
    "os.remove": (0,),
    "os.removexattr": (0,),
    "os.rename": (0, 1),
    "os.rmdir": (0,),
    "os.setxattr": (0,),
    "os.symlink": (1,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "sqlite3.connect": (0,),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
#: Files anyone may read or write (devices that hold nothing).
_ALWAYS_READABLE = ("/dev/null", "/dev/urandom", "/dev/random", "/dev/zero")
_FILE_SIZE_LIMIT = 64 << 20


def virtual_memory() -> int:
    """This process's address space in bytes (Linux ``VmSize``; 0 where unknown)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def set_limits(memory_limit: int, time_limit: float) -> dict[str, int]:
    """Resource limits for the rest of this process (soft = hard, so they cannot be raised):
    address space = what it uses now + ``memory_limit``, CPU seconds, no new processes or
    threads, files of at most 64 MiB, no core dumps. Returns the limits set, by name."""
    limits = {
        "RLIMIT_CPU": int(time_limit) + 2,
        "RLIMIT_NPROC": 0,
        "RLIMIT_FSIZE": _FILE_SIZE_LIMIT,
        "RLIMIT_CORE": 0,
    }
    used = virtual_memory()
    if used:
        limits["RLIMIT_AS"] = used + memory_limit
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing
    applied = {}
    for name, value in limits.items():
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            continue
        applied[name] = value
    return applied


def forget_native_modules() -> None:
    """Drop ``ctypes`` from ``sys.modules`` (numpy imports it), so that importing it again is
    an import the audit hook sees and refuses."""
    for name in list(sys.modules):
        if name.split(".")[0] in _NATIVE_MODULES:
            del sys.modules[name]


class Guard:
    """The audit hook: refuses what a template may not do and reports each refusal."""

    def __init__(
        self,
        work: str,
        readable: Iterable[str],
        report: Callable[[str, str], None],
    ) -> None:
        self.work = os.path.realpath(work)
        self.readable = tuple(
            dict.fromkeys(os.path.realpath(p) for p in (*readable, self.work) if p)
        )
        self.report = report
        self.pid = os.getpid()
        self._busy = False

    def install(self) -> None:
        """Add the hook to this process (it cannot be removed afterwards)."""
        sys.addaudithook(self)

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            refusal = self.refusal(event, args)
        finally:
            self._busy = False
        if refusal is not None:
            kind, detail = refusal
            self.report(kind, detail)
            raise SandboxViolation(f"the template check's sandbox refuses this: {detail}")

    def refusal(self, event: str, args: tuple[Any, ...]) -> tuple[str, str] | None:
        """(kind, what was tried) when ``event`` is refused, else None."""
        if event == "open":
            return self._open(args)
        if event in _NETWORK:
            own = event in ("socket.bind", "socket.connect", "socket.sendmsg", "socket.sendto")
            return "network", f"{event} {_show(args[1:] if own else args)}"
        if event in _PROCESSES:
            return "process", f"{event} {_show(args)}"
        if event in _FILE_CHANGES:
            for i in _FILE_CHANGES[event]:
                path = args[i] if len(args) > i else None
                if not self._inside_work(path):
                    return "write", f"{event} {_show(path)}"
            return None
        if event in ("os.kill", "os.killpg", "signal.pthread_kill"):
            if event == "os.kill" and args and args[0] == self.pid:
                return None
            return "process", f"{event} {_show(args)}"
        if event in _NATIVE:
            return "native", f"{event}"
        if event == "import" and args and str(args[0]).split(".")[0] in _NATIVE_MODULES:
            return "native", f"import {args[0]}"
        if event in _LIMITS:
            return "limits", f"{event} {_show(args)}"
        return None

    def _open(self, args: tuple[Any, ...]) -> tuple[str, str] | None:
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        if path is None or isinstance(path, int):
            return None
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if writing:
            if self._inside_work(path) or _resolved(path) == "/dev/null":
                return None
            return "write", f"open {_show(path)} for writing"
        resolved = _resolved(path)
        if resolved in _ALWAYS_READABLE or _under(resolved, f"/proc/{self.pid}"):
            return None
        if any(_under(resolved, root) for root in self.readable):
            return None
        return "read", f"open {_show(path)}"

    def _inside_work(self, path: Any) -> bool:
        if path is None or isinstance(path, int):
            return True  # an already open descriptor or a directory descriptor
        return _under(_resolved(path), self.work)


def _resolved(path: Any) -> str:
    try:
        return os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return str(path)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _show(value: Any, width: int = 120) -> str:
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def python_roots() -> list[str]:
    """The folders Python and the installed packages load from (readable in the sandbox)."""
    roots = [sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path]
    for name in ("cookbook", "cookbook_plugins"):
        module = sys.modules.get(name)
        spec = getattr(module, "__spec__", None)
        # the folder it is installed in (site-packages, or an editable install's source tree,
        # where Cookbook's data files such as schemas/ live too)
        locations = getattr(spec, "submodule_search_locations", None) or []
        roots.extend(os.path.dirname(p) for p in locations)
    return [r for r in roots if r and os.path.isabs(r)]
