"""Griffe extension: read the reStructuredText bits of focalkit's docstrings as Markdown.

The docstrings are Google style, as Sphinx and ``help()`` read them, with ``:math:`` roles,
``.. math::`` blocks and ``:func:``/``:class:`` cross-references. For the documentation site:

* ``:math:`x``` becomes inline math ``\\(x\\)`` and a ``.. math::`` block becomes ``\\[ ... \\]``
  (both rendered by pymdownx.arithmatex and MathJax);
* an ``Example:`` section is read as griffe's ``Examples:`` section, so its ``>>>`` lines
  render as code;
* an ``Args:`` entry that documents several parameters at once (``a, b, c: as in X``) becomes
  one entry per parameter;
* a cross-reference to a public focalkit object becomes an autorefs link, which fails the
  strict build when the target is not in the API reference. A bare name (``:class:`DiceLoss```)
  is looked up in the docstring's own class and module. Any other target (torch, private
  helpers) becomes inline code.

Griffe reads docstrings from the source; a function or class whose docstring is completed at
import (the region losses insert shared text into theirs) is documented with the docstring of
the imported object, as ``help()`` shows it.
"""

from __future__ import annotations

import importlib
import inspect
import re

from griffe import AliasResolutionError, CyclicAliasError, Extension

ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|obj|exc):`(~?)([^`]+)`")
MATH_ROLE = re.compile(r":math:`([^`]+)`")
EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


def _is_public(path: str) -> bool:
    return path.startswith("focalkit.") and not any(p.startswith("_") for p in path.split("."))


def _resolve(target: str, obj, package) -> str | None:
    """The full path of ``target`` as written in ``obj``'s docstring, or None."""
    if target.startswith("focalkit."):
        return target
    scopes = [obj, obj.parent, obj.module] if obj.parent is not None else [obj, obj.module]
    for scope in scopes:
        if scope is None:
            continue
        candidate = f"{scope.path}.{target}"
        try:
            package[candidate[len(package.path) + 1:]]
        except (KeyError, ValueError, AliasResolutionError, CyclicAliasError):
            continue
        return candidate
    return None


def _reference(match: re.Match, obj, package) -> str:
    short, target = match.group(1), match.group(2).strip()
    shown = target.rsplit(".", 1)[-1] if short else target
    path = _resolve(target, obj, package)
    if path is not None and _is_public(path):
        return f"[`{shown}`][{path}]"
    return f"`{shown}`"


def _math_blocks(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith(".. math::"):
            indent = line[: len(line) - len(stripped)]
            body: list[str] = []
            first = stripped[len(".. math::"):].strip()
            if first:
                body.append(first)
            i += 1
            while i < len(lines) and (not lines[i].strip() or
                                      len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
                body.append(lines[i].strip())
                i += 1
            while body and not body[-1]:
                body.pop()
            body = [b for b in body if b]
            out += [f"{indent}\\[", *(f"{indent}{b}" for b in body), f"{indent}\\]", ""]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _split_shared_args(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    entry_indent = None
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            entry_indent = None
            out.append(line)
            i += 1
            if i < len(lines) and lines[i].strip():
                entry_indent = _indent(lines[i])
            continue
        if entry_indent is not None and stripped and _indent(line) < entry_indent:
            entry_indent = None
        if entry_indent is not None and _indent(line) == entry_indent and stripped:
            head, j = stripped, i
            while ":" not in head and head.endswith(",") and j + 1 < len(lines):
                j += 1
                head += " " + lines[j].strip()
            names, sep, description = head.partition(":")
            if sep and "," in names:
                j += 1
                while j < len(lines) and lines[j].strip() and _indent(lines[j]) > entry_indent:
                    description += " " + lines[j].strip()
                    j += 1
                pad = " " * entry_indent
                for name in (n.strip() for n in names.split(",")):
                    if name:
                        out.append(f"{pad}{name}:{description}")
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _imported_docstring(obj) -> str | None:
    """The docstring of the imported function or class at ``obj.path``, or None."""
    if not (obj.is_function or obj.is_class):
        return None
    try:
        value = importlib.import_module(obj.module.path)
    except ImportError:
        return None
    for name in obj.path[len(obj.module.path) + 1:].split("."):
        value = getattr(value, name, None)
    return inspect.getdoc(value) if value is not None else None


def to_markdown(text: str, obj, package) -> str:
    """Rewrite the reStructuredText of ``obj``'s docstring (``package``: its root package)."""
    text = _split_shared_args(text)
    text = EXAMPLE.sub(r"\1Examples:", text)
    text = _math_blocks(text)
    text = MATH_ROLE.sub(lambda m: f"\\({m.group(1)}\\)", text)
    return ROLE.sub(lambda m: _reference(m, obj, package), text)


class RstToMarkdown(Extension):
    """Apply :func:`to_markdown` to every docstring of a package once it is fully loaded."""

    def on_package(self, *, pkg, **kwargs) -> None:
        self._walk(pkg, pkg)

    def _walk(self, obj, package) -> None:
        if obj.docstring is not None:
            text = _imported_docstring(obj) or obj.docstring.value
            obj.docstring.value = to_markdown(text, obj, package)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member, package)
