"""The check's verdict: accepted or not, what passed, and each problem as its writer sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CheckReport:
    """The outcome of ``check_template``: ``accepted`` when templates were found and no check
    failed; ``problems`` are self-contained messages (what a writer model is shown on its next
    try); ``alignment`` is ``{"task", "template", "records", "mean", "aligned", ...}`` when task
    records were given (the best-aligned template's, with every template's under
    ``by_template`` when there are several)."""

    path: str
    accepted: bool
    templates: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    alignment: dict[str, Any] | None = None
    #: The sandbox's limits (``enforced``: the resource limits the child could set).
    limits: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def text(self) -> str:
        """The printable report (plain text)."""
        verdict = "ACCEPTED" if self.accepted else "REFUSED"
        found = ", ".join(self.templates) if self.templates else "none"
        lines = [f"Template check of {self.path}: {verdict}", f"templates: {found}"]
        if self.passed:
            lines.append("passed:")
            lines += [f"  ok  {line}" for line in self.passed]
        if self.problems:
            lines.append(f"problems ({len(self.problems)}):")
            lines += [f"  --  {_indent(line)}" for line in self.problems]
        if self.alignment is not None:
            a = self.alignment
            lines.append(
                f"alignment of task {a['task']!r} under {a['template']!r}: mean {a['mean']:.4f}"
                f" (95% CI [{a['ci_low']:.4f}, {a['ci_high']:.4f}]) over {a['records']} records;"
                f" {a['aligned']:.1%} fully aligned"
            )
        limits = self.limits
        if limits:
            lines.append(
                f"sandbox: {limits['time_limit']:g} s, {limits['memory_limit'] >> 20} MiB for the"
                f" candidate, {limits['samples']} samples; took {self.seconds:.1f} s"
            )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the report."""
        return {
            "path": self.path,
            "accepted": self.accepted,
            "templates": list(self.templates),
            "problems": list(self.problems),
            "passed": list(self.passed),
            "alignment": self.alignment,
            "limits": dict(self.limits),
            "seconds": round(self.seconds, 3),
        }


def _indent(text: str) -> str:
    return text.replace("\n", "\n      ")
