"""Declarative template specs: a template composed of built-in primitives, from YAML or JSON.

``load_spec`` validates a spec (``schemas/template_spec.schema.json`` and the checks a schema
cannot make); ``template_from_spec`` makes it a ``cookbook.Template``. Nothing in a spec runs
as code, so a spec needs no sandbox.
"""

from cookbook.specs.compiler import template_from_spec
from cookbook.specs.loader import SPEC_SUFFIXES, is_spec_path, load_spec

__all__ = ["SPEC_SUFFIXES", "is_spec_path", "load_spec", "template_from_spec"]
