"""The documentation cannot go stale silently: every repository path that README.md and docs/*.md
name exists (in backticks, in code blocks and as link targets, with a link's #anchor checked against
the headings of the page it points to), and every console command that pyproject.toml declares
answers --help with exit status 0."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# a token names a repository path when its first component is one of these folders or it is one of these files
FOLDERS = ("bench", "configs", "docs", "examples", "launch", "mpa_dist", "tests", ".ci")
FILES = ("Dockerfile", "Makefile", "LICENSE", "README.md", "pyproject.toml", "requirements.txt", "constraints.txt")
PLACEHOLDER = re.compile(r"[<>{}$]|\.\.\.")  # runs/<name>/..., {train,val,test}, $MPA_CACHE: not one path
FENCE = re.compile(r"^ *```.*?^ *```", re.M | re.S)
SPAN = re.compile(r"`([^`]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _candidate(token: str) -> str | None:
    token = token.strip("'\"()[],;:!?*").removeprefix("./").rstrip(".")
    token = token.split("::")[0]  # a pytest node id: its file
    if not token or PLACEHOLDER.search(token) or "://" in token:
        return None
    first = token.split("/")[0]
    if (first in FOLDERS and "/" in token) or token in FILES:
        return token
    return None


def _exists(root: Path, path: str) -> bool:
    if any(c in path for c in "*?"):
        return any(root.glob(path))
    return (root / path).exists()


def slug(heading: str) -> str:
    """A heading's anchor as GitHub writes it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M)}


def named_paths(text: str) -> list[tuple[int, str]]:
    """(line, path) for every repository path the Markdown text names in code (spans and blocks)."""
    found = []

    def tokens(chunk: str, start: int) -> None:
        for m in re.finditer(r"\S+", chunk):
            for piece in m.group(0).split("="):  # key=configs/x.yaml: the value
                path = _candidate(piece)
                if path:
                    found.append((text.count("\n", 0, start + m.start()) + 1, path))

    for block in FENCE.finditer(text):
        tokens(block.group(0), block.start())
    blanked = FENCE.sub(lambda b: re.sub(r"[^\n]", " ", b.group(0)), text)  # keep offsets, drop the blocks
    for span in SPAN.finditer(blanked):
        tokens(span.group(1), span.start(1))
    return sorted(found)


def problems(page: Path, text: str | None = None, root: Path = ROOT) -> list[str]:
    """What a page names that is not there: `page:line: path` for paths and link targets."""
    text = page.read_text() if text is None else text
    where = page.relative_to(root) if page.is_relative_to(root) else page
    out = [f"{where}:{line}: {path}" for line, path in named_paths(text) if not _exists(root, path)]
    blanked = FENCE.sub(lambda b: re.sub(r"[^\n]", " ", b.group(0)), text)
    for m in LINK.finditer(blanked):
        target = m.group(1)
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        line = text.count("\n", 0, m.start()) + 1
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            out.append(f"{where}:{line}: link {target}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            out.append(f"{where}:{line}: link {target} (no such heading)")
    return out


def test_every_path_named_in_the_docs_exists():
    assert len(PAGES) > 3, PAGES
    named = sum(len(named_paths(p.read_text())) for p in PAGES)
    assert named > 50, f"only {named} paths found in README.md and docs/: the extraction is broken"
    missing = [m for p in PAGES for m in problems(p)]
    assert not missing, "named in the docs but not in the repository:\n" + "\n".join(missing)


def test_a_made_up_path_or_link_fails_the_check():
    page = ROOT / "docs" / "made_up.md"
    text = ("Real: `configs/posttrain.yaml`, `tests/test_docs.py::test_every_path_named_in_the_docs_exists`,\n"
            "[data](data.md#the-offline-data).\n"
            "Made up: `configs/model/made_up.yaml` and [a page](no_such_page.md) and [a part](data.md#no-such-part)\n"
            "```bash\npython launch/made_up.py name=x\n```\n")
    found = problems(page, text)
    assert found == ["docs/made_up.md:3: configs/model/made_up.yaml", "docs/made_up.md:5: launch/made_up.py",
                     "docs/made_up.md:3: link no_such_page.md",
                     "docs/made_up.md:3: link data.md#no-such-part (no such heading)"], found


def _scripts() -> dict[str, str]:
    text = (ROOT / "pyproject.toml").read_text()
    try:
        import tomllib
    except ImportError:  # Python 3.10: the [project.scripts] table read line by line
        section = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
        return dict(re.findall(r'^([\w-]+)\s*=\s*"([^"]+)"', section, re.M))
    return tomllib.loads(text)["project"]["scripts"]


SCRIPTS = _scripts()

# every command's --help in one process: the imports (Hydra, the configs) are paid once
_HELP = r"""
import contextlib, importlib, io, json, sys
out = {}
for name, target in json.loads(sys.argv[1]).items():
    module, func = target.split(":")
    buf, code = io.StringIO(), 0
    sys.argv = [name, "--help"]
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            getattr(importlib.import_module(module), func)()
    except SystemExit as e:
        code = 0 if e.code is None else e.code if isinstance(e.code, int) else 1
    except Exception as e:
        code, _ = repr(e), buf.write(repr(e))
    out[name] = [code, buf.getvalue()]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def helps() -> dict[str, list]:
    proc = subprocess.run([sys.executable, "-c", _HELP, json.dumps(SCRIPTS)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_pyproject_declares_the_commands():
    assert len(SCRIPTS) >= 9 and all(n.startswith("mpa-") for n in SCRIPTS), SCRIPTS


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_each_console_command_answers_help(helps, name):
    code, text = helps[name]
    assert code == 0, f"{name} --help exited with {code}:\n{text[-2000:]}"
    assert name in text and "usage" in text.lower(), text[-2000:]
