"""Writes one API reference page per public module of blocks before Sphinx reads sources.

The list of modules comes from walking the package, so a module that lands in blocks gets
its page without anyone editing the docs. A module is public when no part of its dotted
name starts with an underscore and it is not an entry point (``__main__``).
"""

import importlib
import pkgutil
from pathlib import Path

#: Modules that run or hook into the interpreter when imported instead of defining an API.
EXCLUDED = {"blocks.examples.__main__"}


def public_modules(package_name="blocks"):
    """The dotted names of the public modules of `package_name`, the package included."""
    package = __import__(package_name)
    names = [package_name]
    for info in pkgutil.walk_packages(package.__path__, prefix=package_name + "."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts) or info.name in EXCLUDED:
            continue
        names.append(info.name)
    return sorted(names)


def documented_members(module):
    """The names a module's page documents, or None for autodoc's default choice.

    A module's ``__all__`` is its API, but a package's ``__all__`` also re-exports the
    names of its submodules; each object is documented once, on the page of the module
    that defines it, which keeps every cross-reference target unique.
    """
    namespace = importlib.import_module(module)
    exported = getattr(namespace, "__all__", None)
    if exported is None:
        return None
    is_package = hasattr(namespace, "__path__")
    names = []
    for name in exported:
        value = getattr(namespace, name)
        defined_in = getattr(value, "__module__", None)
        if defined_in == module or (defined_in is None and not is_package):
            names.append(name)
    return names


def page_text(module):
    title = f"``{module}``"
    text = f"{title}\n{'=' * len(title)}\n\n.. automodule:: {module}\n"
    members = documented_members(module)
    if members is None:
        text += "   :members:\n"
    elif members:
        text += f"   :members: {', '.join(members)}\n"
    if members != []:
        text += "   :show-inheritance:\n"
    reexported = reexports(module)
    if reexported:
        text += ("\nImported from here, defined in the submodules:\n\n"
                 + "".join(f"- :obj:`{name} <{target}>` (``{target.rsplit('.', 1)[0]}``)\n"
                           for name, target in reexported))
    return text


def reexports(module):
    """``(name, where it is defined)`` for the names of a package's ``__all__`` that one of
    its submodules defines."""
    namespace = importlib.import_module(module)
    if not hasattr(namespace, "__path__"):
        return []
    pairs = []
    for name in getattr(namespace, "__all__", []):
        value = getattr(namespace, name)
        defined_in = getattr(value, "__module__", None) or ""
        qualname = getattr(value, "__qualname__", None)
        if qualname and defined_in.startswith(module + "."):
            pairs.append((name, f"{defined_in}.{qualname}"))
    return pairs


def index_text(modules):
    lines = [
        "API reference",
        "=============",
        "",
        "One page per public module, generated from the docstrings. Classes and functions",
        "appear on the page of the module that defines them; packages such as",
        ":mod:`blocks.bricks` re-export them under shorter import paths.",
        "",
    ]
    for package in sorted({m.split(".")[1] if "." in m else "" for m in modules}):
        group = [m for m in modules if m == f"blocks.{package}"
                 or m.startswith(f"blocks.{package}.")] if package else ["blocks"]
        heading = f"``blocks.{package}``" if package else "``blocks``"
        lines += [heading, "-" * len(heading), "", ".. toctree::", "   :maxdepth: 1", ""]
        lines += [f"   {m}" for m in group]
        lines.append("")
    return "\n".join(lines)


def write_pages(app):
    directory = Path(app.srcdir) / "api"
    directory.mkdir(exist_ok=True)
    modules = public_modules()
    wanted = {f"{m}.rst": page_text(m) for m in modules}
    wanted["index.rst"] = index_text(modules)
    for stale in directory.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        path = directory / name
        # Rewriting an unchanged page would make Sphinx reread it on every build.
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def setup(app):
    app.connect("builder-inited", write_pages)
    return {"parallel_read_safe": True}
