"""Sphinx extension: references to re-exported names lead to where they are documented.

The library's packages re-export their submodules' names (``blocks.bricks.MLP`` is
``blocks.bricks.simple.MLP``) and the guides and docstrings use the short paths, but
each object is documented once, on the page of the module that defines it. When a
Python cross-reference finds no target, this looks the name up by importing it and
retries with the module and qualified name of the object found.
"""

import importlib

from sphinx.util import logging

logger = logging.getLogger(__name__)


def _import(dotted):
    """The object named `dotted` (``package.module.Class.attribute``), or None."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                value = getattr(value, attribute)
        except AttributeError:
            return None
        return value
    return None


def canonical_name(dotted, attributes=()):
    """Where the object that `dotted` names is defined, as a dotted name, or None."""
    if not dotted.startswith("blocks."):
        return None
    parts = dotted.split(".")
    # An attribute of a class (a method, a property) keeps its name after the class's.
    for split in range(len(parts), 1, -1):
        owner = _import(".".join(parts[:split]))
        module = getattr(owner, "__module__", None)
        qualname = getattr(owner, "__qualname__", None)
        if module and qualname and module.startswith("blocks"):
            name = ".".join([module, qualname, *parts[split:]])
            return None if name == dotted else name
    return None


def resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    canonical = canonical_name(target)
    if canonical is None:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(env, node.get("refdoc"), app.builder, node["reftype"],
                               canonical, node, contnode)


def setup(app):
    app.connect("missing-reference", resolve)
    return {"parallel_read_safe": True}
