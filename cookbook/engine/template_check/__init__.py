"""The sandboxed check of a written template: ``check_template(path) -> CheckReport``.

The candidate (a module, a plugin package or a spec file) is imported only in child processes
with resource limits and an audit hook (``guard``), started and stopped by ``sandbox``; the
checks they run are in ``checks``; ``check`` puts their findings into a ``CheckReport``.
"""

from cookbook.engine.template_check.check import check_template
from cookbook.engine.template_check.report import CheckReport

__all__ = ["CheckReport", "check_template"]
