"""Griffe extension: read the reStructuredText bits of focalkit's docstrings as Markdown.

The docstrings are Google style, as Sphinx and ``help()`` read them, with ``:math:`` roles,
``.. math::`` blocks and ``:func:``/``:class:`` cross-references. For the documentation site:

* ``:math:`x``` becomes inline math ``\\(x\\)`` and a ``.. math::`` block becomes ``\\[ ... \\]``
  (both rendered by pymdownx.arithmatex and MathJax);
* an ``Example:`` section is read as griffe's ``Examples:`` section, so its ``>>>`` lines
  render as code;
* a docstring assigned at run time (``f.__doc__ = ...``), which static analysis cannot see,
  is read from the imported object;
* an ``Args:`` entry that documents several parameters at once (``a, b, c: as in X``) becomes
  one entry per parameter;
* a cross-reference to a public focalkit object becomes an autorefs link, which fails the
  strict build when the target is not in the API reference; any other target (torch, private
  helpers) becomes inline code.
"""

from __future__ import annotations

import importlib
import inspect
import re

from griffe import Docstring, Extension

ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|obj|exc):`(~?)([^`]+)`")
MATH_ROLE = re.compile(r":math:`([^`]+)`")
EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


def _reference(match: re.Match) -> str:
    short, target = match.group(1), match.group(2).strip()
    shown = target.rsplit(".", 1)[-1] if short else target
    public = target.startswith("focalkit.") and not any(
        part.startswith("_") for part in target.split("."))
    if public:
        return f"[`{shown}`][{target}]"
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


def to_markdown(text: str) -> str:
    """Rewrite the reStructuredText roles and math blocks of one docstring."""
    text = _split_shared_args(text)
    text = EXAMPLE.sub(r"\1Examples:", text)
    text = _math_blocks(text)
    text = MATH_ROLE.sub(lambda m: f"\\({m.group(1)}\\)", text)
    return ROLE.sub(_reference, text)


class RstToMarkdown(Extension):
    """Apply :func:`to_markdown` to every docstring griffe loads."""

    def on_instance(self, *, obj, agent, **kwargs) -> None:
        if obj.docstring is None and (obj.is_function or obj.is_class):
            doc = _runtime_doc(obj.module.path, obj.path[len(obj.module.path) + 1:])
            if doc:
                obj.docstring = Docstring(doc, parent=obj, parser=agent.docstring_parser,
                                          parser_options=agent.docstring_options)
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)


def _runtime_doc(module: str, qualname: str) -> str | None:
    """The docstring of ``module.qualname`` as Python sees it after importing the module."""
    try:
        target = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError):
        return None
    doc = getattr(target, "__doc__", None)
    return inspect.cleandoc(doc) if doc else None
