"""The documentation cannot drift from the code.

* Every ```python block in ``docs/*.md`` and ``README.md`` runs, page by page, in one
  namespace per page; each block imports what it uses (the names earlier blocks imported are
  dropped before it runs), so a block copied with the values above it runs as written. A block
  that cannot run here is opted out by ``<!-- docs-test: skip (reason) -->`` on the line above
  its fence.
* The shell commands the pages show are checked: the README commands appear verbatim in the
  README, and every ``focalkit ...`` command parses with the command line's own parser.
* ``mkdocs build --strict`` passes (broken links, unresolved references, missing docstrings and
  missing MathJax fail it); skipped when the ``docs`` extra is not installed.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
# Libraries the migration notes compare against, and the frameworks of the integrations page:
# a block that imports one of them is skipped (and the page's other blocks still run) when it
# is not installed.
PEERS = {"kornia", "monai", "segmentation_models_pytorch", "torchvision",
         "transformers", "lightning", "yaml"}
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
LANGUAGES = {"python", "bash", "text"}
SKIP = re.compile(r"<!-- docs-test: skip \((?P<reason>[^)]*\S[^)]*)\) -->\n\Z")
SKIP_START = "<!-- docs-test: skip"
PAGES_WITH_CODE = PAGES + [ROOT / "README.md"]


def blocks(page: Path, language: str) -> list[str]:
    return blocks_of(page.read_text(), language)


def blocks_of(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def python_blocks(text: str) -> list[tuple[str, str | None]]:
    """Each ```python block with the reason of its opt-out marker (None when it must run).

    Raises:
        ValueError: for a marker that gives no reason or is not right above a fence.
    """
    found = []
    for match in FENCE.finditer(text):
        if match.group(1) != "python":
            continue
        before = text[text.rfind("\n", 0, max(match.start() - 1, 0)) + 1:match.start()]
        marker = SKIP.search(before) if before.startswith(SKIP_START) else None
        if before.startswith(SKIP_START) and marker is None:
            raise ValueError(f"the opt-out marker must read '<!-- docs-test: skip (reason) "
                             f"-->' right above the fence; got {before.strip()!r}")
        found.append((match.group(2), marker.group("reason") if marker else None))
    markers = text.count(SKIP_START)
    if markers != sum(reason is not None for _, reason in found):
        raise ValueError(f"{markers} opt-out markers, but not all of them sit right above a "
                         "```python fence")
    return found


def imported_names(source: str) -> set[str]:
    """The names that the top-level import statements of ``source`` bind."""
    names = set()
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            for alias in statement.names:
                names.add(alias.asname or alias.name.split(".")[0])
    return names


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=[p.name for p in PAGES_WITH_CODE])
def test_code_blocks_are_python_bash_or_text(page):
    languages = {lang for lang, _ in FENCE.findall(page.read_text())}
    assert languages <= LANGUAGES, (
        f"{page.name}: fences {sorted(languages - LANGUAGES)} (untagged or another tag) "
        f"would hide code from the python-block test; tag them {sorted(LANGUAGES)}")


def test_opt_out_marker_needs_a_reason_and_a_fence():
    block = "```python\nraise RuntimeError\n```\n"
    marked = python_blocks(f"<!-- docs-test: skip (needs CUDA) -->\n{block}```python\n1\n```\n")
    assert marked == [("raise RuntimeError\n", "needs CUDA"), ("1\n", None)]
    with pytest.raises(ValueError, match="must read"):
        python_blocks(f"<!-- docs-test: skip -->\n{block}")
    with pytest.raises(ValueError, match="not all of them"):
        python_blocks(f"<!-- docs-test: skip (no network) -->\n\ntext\n{block}")


def test_blocks_import_what_they_use():
    """The import rule is enforced: a name imported only by an earlier block is not there."""
    assert imported_names("import torch.nn.functional as F\nimport os.path\nfrom a import b as c\n"
                          "def f():\n    import sys\n") == {"F", "os", "c"}


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=[p.name for p in PAGES_WITH_CODE])
def test_python_blocks_run(page, tmp_path, monkeypatch):
    code = python_blocks(page.read_text())
    if not code:
        pytest.skip("no python blocks")
    monkeypatch.chdir(tmp_path)
    pytest.importorskip("torch")
    import torch

    _importable_smp_losses(monkeypatch)

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: extra threads only wait on each other
    # The values the blocks above defined, without what they imported; a function keeps the
    # namespace of its own block, imports included.
    values: dict = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    missing, opted_out = [], []
    try:
        for number, (source, reason) in enumerate(code, 1):
            compiled = compile(source, f"{page.name}[block {number}]", "exec")
            if reason is not None:
                opted_out.append(f"block {number} ({reason})")
                continue
            namespace = dict(values)
            try:
                exec(compiled, namespace)
            except ModuleNotFoundError as err:
                name = (err.name or "").split(".")[0]
                if name not in PEERS or importlib.util.find_spec(name) is not None:
                    raise  # not a peer, or a peer that is installed but fails to import
                missing.append(f"block {number} needs {err.name}")
            except Exception as err:
                raise AssertionError(f"{page.name}, python block {number} failed: {err!r}\n"
                                     f"{source}") from err
            finally:
                imported = imported_names(source)
                values.update((name, value) for name, value in namespace.items()
                              if name not in imported and name != "__builtins__")
    finally:
        torch.set_num_threads(threads)
    if missing or opted_out:
        pytest.skip("the other blocks ran; " + ", ".join(
            [f"{item} (not installed)" for item in missing] + opted_out))


def _importable_smp_losses(monkeypatch) -> None:
    """Make ``segmentation_models_pytorch.losses`` importable when smp is installed.

    smp's package ``__init__`` imports its model zoo, which needs torchvision; its losses need
    none of it. When that import fails, the losses are loaded from their files (as the region
    tests load them) and registered under the package's name for this test only.
    """
    try:
        importlib.import_module("segmentation_models_pytorch.losses")
        return
    except ImportError:
        if importlib.util.find_spec("segmentation_models_pytorch") is None:
            return
    from region_helpers import load_smp_losses

    try:
        losses = load_smp_losses()
    except pytest.skip.Exception:
        return
    package = type(sys)("segmentation_models_pytorch")
    package.losses = losses
    monkeypatch.setitem(sys.modules, "segmentation_models_pytorch", package)
    monkeypatch.setitem(sys.modules, "segmentation_models_pytorch.losses", losses)


MIGRATION = DOCS / "migration.md"


def migration_entries() -> list[tuple[str, str | None]]:
    """The mappings of the migration page and the python block that follows each.

    A mapping is a paragraph that opens with the peer's call in backquotes and names focalkit's
    after an arrow.
    """
    text = MIGRATION.read_text()
    fenced = []

    def hold(match: re.Match) -> str:
        fenced.append((match.group(1), match.group(2)))
        return f"\n\n\0{len(fenced) - 1}\0\n\n"

    paragraphs = [p.strip() for p in FENCE.sub(hold, text).split("\n\n") if p.strip()]
    entries = []
    for paragraph, after in zip(paragraphs, paragraphs[1:] + [""], strict=True):
        if paragraph.startswith("`") and "→" in paragraph:
            block = re.fullmatch(r"\0(\d+)\0", after)
            language, body = fenced[int(block.group(1))] if block else (None, None)
            entries.append((paragraph.splitlines()[0], body if language == "python" else None))
    return entries


def test_every_migration_entry_is_checked():
    """Each mapping of the migration page is followed by a block that asserts it."""
    assert "| --- |" not in MIGRATION.read_text(), (
        "migration.md maps in tables: each mapping needs its check")
    entries = migration_entries()
    assert len(entries) >= 30
    for line, body in entries:
        assert body is not None, f"migration.md: no python block right after {line!r}"
        assert "assert " in body, f"migration.md: the block after {line!r} asserts nothing"


@pytest.mark.parametrize("peer,module", [("kornia", "kornia.losses"),
                                         ("monai", "monai.losses"),
                                         ("smp", "segmentation_models_pytorch.losses")])
def test_migration_checks_each_installed_peer(peer, module, monkeypatch):
    """The blocks that name a peer import it, so they run whenever it is installed."""
    _importable_smp_losses(monkeypatch)
    code = blocks(MIGRATION, "python")
    named = [source for source in code if module.split(".")[0] in source]
    assert len(named) >= 5, f"migration.md checks {peer} in {len(named)} blocks"
    assert all(f"import {module}" in source or f"from {module} import" in source
               for source in named)
    pytest.importorskip(module)


def shell_commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for body in blocks(page, "bash"):
            for line in body.splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    found.append((page.name, line))
    return found


def test_readme_commands_are_quoted_verbatim():
    readme = (ROOT / "README.md").read_text()
    page = DOCS / "getting-started.md"
    quoted = [line for body in blocks(page, "bash") for line in body.splitlines()
              if "pytest" in line or "focalkit demo" in line]
    assert quoted, "getting-started.md shows no README command"
    for line in quoted:
        assert line in readme, f"getting-started.md shows a command the README lacks: {line}"


FOCALKIT_COMMANDS = [(page, part) for page, line in shell_commands()
                     for part in re.split(r"\s*&&\s*", line)
                     if part.startswith("focalkit ")]


@pytest.mark.parametrize("page,command", FOCALKIT_COMMANDS,
                         ids=[c for _, c in FOCALKIT_COMMANDS] or None)
def test_focalkit_commands_parse(page, command):
    cli = pytest.importorskip("focalkit.cli")
    parser = cli.build_parser()
    args = shlex.split(command)[1:]
    try:
        parser.parse_args(args)
    except SystemExit as exit:
        raise AssertionError(f"{page}: `{command}` does not parse (exit {exit.code})") from exit


IMAGE = re.compile(r"!\[[^\]]*\]\((images/[^)]+\.png)\)")


def test_figures_state_the_command_that_made_them():
    cli = pytest.importorskip("focalkit.cli")
    parser = cli.build_parser()
    for page in PAGES:
        text = page.read_text()
        for match in IMAGE.finditer(text):
            image = match.group(1)
            caption = text[match.end():match.end() + 600].split("\n\n")[1]
            made = [c for c in re.findall(r"`(focalkit [^`]+)`", caption)
                    if _writes(c, f"docs/{image}")]
            assert made, f"{page.name}: no `focalkit ... --out` command under {image}"
            parser.parse_args(shlex.split(made[0])[1:])
            assert (DOCS / image).is_file(), f"{page.name}: {image} is missing"


def _writes(command: str, path: str) -> bool:
    """Whether ``command``'s ``--out`` is ``path`` or a folder that holds it."""
    words = shlex.split(command)
    if "--out" not in words[:-1]:
        return False
    out = words[words.index("--out") + 1].rstrip("/")
    return path == out or path.startswith(out + "/")


def test_mkdocs_build_strict(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python",
                   "mathjax"):
        pytest.importorskip(module)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    scripts = set()
    for html in tmp_path.rglob("*.html"):
        scripts.update(re.findall(r"<script[^>]*\ssrc=\"([^\"]+)\"", html.read_text()))
    external = sorted(s for s in scripts if re.match(r"(https?:)?//", s))
    assert not external, f"the site loads scripts from outside: {external}"
    assert (tmp_path / "javascripts" / "mathjax" / "tex-svg-full.js").is_file()


def test_readme_quick_start_runs_and_explains_the_scheduler():
    pytest.importorskip("torch")
    readme = (ROOT / "README.md").read_text()
    quick_start = readme[readme.index("## Quick start"):readme.index("\n## ", readme.index(
        "## Quick start") + 1)]
    code = blocks_of(quick_start, "python")
    assert len(code) == 1
    exec(compile(code[0], "README.md[quick start]", "exec"), {})
    prose = FENCE.sub("", quick_start)
    assert "`gamma_start`" in prose and "when it is built" in code[0]
