"""Build hooks for the focalkit documentation (MkDocs ``hooks:``).

* MathJax comes from the ``django-static-mathjax`` package (part of the ``docs`` extra) and is
  copied into the site, so the built pages load no script from outside.
* ``api.md`` holds the marker ``<!-- focalkit-api -->``; it is replaced by one mkdocstrings
  entry per name in ``focalkit.__all__``, grouped by loss family, so a new public name shows
  up in the reference without editing the page.
* ``backends.md`` holds the marker ``<!-- focalkit-kernels -->``; it is replaced by the table
  of which backend has a kernel of which loss, read from the kernels' registrations.
* ``<!-- include: NAME -->`` is replaced by the text of ``docs/NAME``, a page that another
  command writes (the demo results, the benchmark tables). Its links are written relative to
  the repository root, for the README, and are made relative to ``docs/``; its own title, if
  any, gives way to the page's. A missing file is a warning.
* Every public object must have a docstring: a missing one is a warning, which fails
  ``mkdocs build --strict``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
import types
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.plugins.focalkit")

API_MARKER = "<!-- focalkit-api -->"
KERNELS_MARKER = "<!-- focalkit-kernels -->"
INCLUDE = re.compile(r"^<!-- include: ([\w.-]+\.md) -->$", re.MULTILINE)
MATHJAX_FILE = "es5/tex-svg-full.js"
MATHJAX_DEST = "javascripts/mathjax/tex-svg-full.js"

# nn.Module methods documented by the class itself.
UNDOCUMENTED_METHODS = ("forward", "extra_repr")

# Section titles for the modules that define the loss classes, in page order.
FAMILIES = {
    "focal": "Focal losses",
    "region": "Region losses: Dice, Jaccard, Tversky",
    "region_more": "More region losses: generalized Dice, unified focal",
    "long_tail": "Long-tail losses: logit adjustment, LDAM",
    "lovasz": "Lovász losses",
    "boundary": "Distance and topology losses: Hausdorff-DT, boundary, clDice",
    "combo": "Combined losses",
    "schedules": "Gamma schedules",
}


def _mathjax_path() -> Path:
    try:
        package = importlib.import_module("mathjax")
    except ImportError as err:
        raise PluginError("MathJax is not installed: pip install -e '.[docs]' (it comes from "
                          "the django-static-mathjax package)") from err
    path = Path(package.__file__).parent / "static" / "mathjax" / MATHJAX_FILE
    if not path.is_file():
        raise PluginError(f"MathJax file not found at {path}")
    return path


def on_files(files, config):
    files.append(File.generated(config, MATHJAX_DEST, abs_src_path=str(_mathjax_path())))
    return files


def _public_modules(package: types.ModuleType) -> list[types.ModuleType]:
    return [getattr(package, name) for name in package.__all__
            if isinstance(getattr(package, name), types.ModuleType)]


def _check_docstrings() -> None:
    import focalkit

    seen: set[int] = set()
    modules = [focalkit, *_public_modules(focalkit), importlib.import_module("focalkit.nn")]
    for module in modules:
        if not inspect.getdoc(module):
            log.warning("module %s has no docstring", module.__name__)
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType) or id(obj) in seen:
                continue
            seen.add(id(obj))
            if not (obj.__doc__ or "").strip():
                log.warning("%s.%s has no docstring", module.__name__, name)
            if inspect.isclass(obj):
                for attr, value in vars(obj).items():
                    if attr.startswith("_") or attr in UNDOCUMENTED_METHODS:
                        continue
                    if inspect.isfunction(value) and not inspect.getdoc(getattr(obj, attr)):
                        log.warning("%s.%s.%s has no docstring", module.__name__, name, attr)


def on_pre_build(config):
    _check_docstrings()


def _api_markdown() -> str:
    import focalkit

    families: dict[str, list[str]] = {}
    modules = []
    exported_modules = {m.__name__ for m in _public_modules(focalkit)}
    for name in focalkit.__all__:
        obj = getattr(focalkit, name)
        if isinstance(obj, types.ModuleType):
            modules.append(obj)
            continue
        home = obj.__module__
        if home in exported_modules:
            continue  # documented with its module below
        families.setdefault(home.rsplit(".", 1)[-1], []).append(name)
    order = list(FAMILIES) + sorted(set(families) - set(FAMILIES))
    lines = ["## Modules and classes {#focalkit.nn}", ""]
    lines.append("Importable from `focalkit` (the loss modules also from `focalkit.nn`).")
    lines.append("")
    for family in order:
        if family not in families:
            continue
        lines += [f"### {FAMILIES.get(family, family.title())}", ""]
        for name in families[family]:
            lines += [f"::: focalkit.{name}", "    options:", "      heading_level: 4", ""]
    for module in modules:
        members = ", ".join(f'"{m}"' for m in module.__all__)
        lines += [f"## `{module.__name__}`", "", f"::: {module.__name__}", "    options:",
                  "      show_root_heading: false", "      show_root_toc_entry: false",
                  f"      members: [{members}]", ""]
    return "\n".join(lines)


def _include(match: re.Match, docs_dir: Path, page: str) -> str:
    path = docs_dir / match.group(1)
    if not path.is_file():
        log.warning("%s includes %s, which does not exist", page, path)
        return ""
    text = re.sub(r"\]\(docs/", "](", path.read_text())
    # The including page has its own title.
    return re.sub(r"\A# [^\n]*\n+", "", text)


def on_page_markdown(markdown, page, config, files):
    if API_MARKER in markdown:
        markdown = markdown.replace(API_MARKER, _api_markdown())
    if KERNELS_MARKER in markdown:
        from focalkit import _dispatch

        markdown = markdown.replace(KERNELS_MARKER, _dispatch.kernel_table())
    docs_dir = Path(config["docs_dir"])
    return INCLUDE.sub(lambda m: _include(m, docs_dir, page.file.src_uri), markdown)
