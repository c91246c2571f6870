"""Every relative link in README.md and docs/ resolves: the file (or folder)
exists, relative to the page, and an anchor names a heading of the target
(GitHub's slugs, duplicates numbered -1, -2, …) or an explicit
``<a id=…>`` / ``<a name=…>``. External links (http, https, mailto, any
scheme) are not fetched. Links inside code (fenced blocks, `spans`) are not
links."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

pytestmark = pytest.mark.pure  # no database: runs once, in the SQLite leg

ROOT = Path(__file__).resolve().parents[1]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
# [text](target "title") and ![alt](target); the text may hold one level of brackets.
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.MULTILINE)
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
HTML_ANCHOR = re.compile(r"<[a-z][^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
LINE_ANCHOR = re.compile(r"^L\d+(?:C\d+)?(?:-L\d+(?:C\d+)?)?$")  # GitHub's anchors into a source file


@dataclass(frozen=True)
class Broken:
    page: Path
    line: int
    target: str
    reason: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: ({self.target}) {self.reason}"


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The page's lines outside fenced code blocks, with their numbers, code
    spans blanked out (a link's text may be code: its brackets stay)."""
    lines, fence = [], None
    for number, line in enumerate(text.split("\n"), start=1):
        opening = FENCE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        lines.append((number, CODE_SPAN.sub(lambda m: "x" * len(m.group(0)), line)))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text: markup and punctuation dropped
    (letters, digits, '-' and '_' stay), lower-cased, spaces → '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images → their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").lower()
    kept = []
    for char in text:
        if char in "-_ " or unicodedata.category(char)[0] in "LNM":
            kept.append(char)
    return "".join(kept).replace(" ", "-")


def headings(text: str) -> list[str]:
    found, fence, previous = [], None, ""
    for line in text.split("\n"):
        opening = FENCE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            previous = ""
            continue
        if opening:
            fence, previous = opening.group(1), ""
            continue
        atx = ATX_HEADING.match(line)
        if atx:
            found.append(atx.group(2).strip())
            previous = ""
            continue
        underline = SETEXT_UNDERLINE.match(line)
        if underline and previous.strip() and not previous.lstrip().startswith(("|", "-", "*", ">")):
            found.append(previous.strip())
            previous = ""
            continue
        previous = line
    return found


def anchors(text: str) -> set[str]:
    """Every anchor a page offers: its headings' slugs, numbered as GitHub
    numbers repeats, and explicit ids and names."""
    seen: dict[str, int] = {}
    result = set()
    for heading in headings(text):
        base = slug(heading)
        if base in seen:
            seen[base] += 1
            result.add(f"{base}-{seen[base]}")
        else:
            seen[base] = 0
            result.add(base)
    for _, line in prose_lines(text):
        result.update(HTML_ANCHOR.findall(line))
    return result


def links(text: str) -> list[tuple[int, str]]:
    found = []
    for number, line in prose_lines(text):
        for match in INLINE_LINK.finditer(line):
            found.append((number, match.group(1)))
        for match in HTML_LINK.finditer(line):
            found.append((number, match.group(1)))
    numbered = dict(prose_lines(text))
    for match in REFERENCE_DEFINITION.finditer(text):
        number = text.count("\n", 0, match.start()) + 1
        if number in numbered:  # not inside a fenced block
            found.append((number, match.group(1)))
    return [(number, target.strip("<>")) for number, target in found]


def broken_links(root: Path, pages: list[Path]) -> list[Broken]:
    """Each relative link of the pages that does not resolve, and why."""
    kept_anchors: dict[Path, set[str]] = {}
    broken = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for number, target in links(text):
            if not target or SCHEME.match(target) or target.startswith("//"):
                continue
            path_part, _, anchor = target.partition("#")
            path_part = unquote(path_part.split("?", 1)[0])
            where = page.relative_to(root)
            destination = (page.parent / path_part).resolve() if path_part else page
            if not destination.exists():
                broken.append(Broken(where, number, target, "no such file"))
                continue
            if not anchor:
                continue
            anchor = unquote(anchor)
            if destination.is_dir() or destination.suffix.lower() not in (".md", ".markdown"):
                if not LINE_ANCHOR.match(anchor):
                    broken.append(Broken(where, number, target, "an anchor into a file that is not Markdown"))
                continue
            if destination not in kept_anchors:
                kept_anchors[destination] = anchors(destination.read_text(encoding="utf-8"))
            if anchor not in kept_anchors[destination]:
                broken.append(Broken(where, number, target, f"no heading or anchor {anchor!r} there"))
    return broken


def documentation_pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def test_every_relative_link_in_the_readme_and_docs_resolves():
    pages = documentation_pages(ROOT)
    assert len(pages) > 10  # the docs are where they are expected
    broken = broken_links(ROOT, pages)
    assert not broken, "broken links:\n" + "\n".join(map(str, broken))


def test_the_readme_stays_short_and_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    first_lines = "\n".join(readme.splitlines()[:8])
    assert "make run" in first_lines and "make test" in first_lines


def test_every_docs_page_is_reachable_from_the_readme():
    """Each page under docs/ is linked from the README or from a page the
    README links to (transitively)."""
    readme = ROOT / "README.md"
    reached, todo = {readme}, [readme]
    while todo:
        page = todo.pop()
        for _, target in links(page.read_text(encoding="utf-8")):
            path_part = unquote(target.partition("#")[0])
            if not path_part or SCHEME.match(path_part):
                continue
            destination = (page.parent / path_part).resolve()
            if destination.is_dir():
                destination = destination / "README.md"
            if destination.suffix == ".md" and destination.exists() and destination not in reached:
                reached.add(destination)
                todo.append(destination)
    unreached = [str(page.relative_to(ROOT)) for page in documentation_pages(ROOT) if page not in reached]
    assert not unreached, f"docs pages no link leads to from the README: {unreached}"


# --- the checker itself, on a tiny tree ----------------------------------


def _tree(root: Path, files: dict[str, str]) -> list[Path]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return documentation_pages(root)


def test_the_checker_reports_a_missing_file_and_a_missing_anchor(tmp_path):
    pages = _tree(
        tmp_path,
        {
            "README.md": (
                "# Title\n\nSee [the guide](docs/guide.md#setting-up), [gone](docs/gone.md) and\n"
                "[nowhere](docs/guide.md#no-such-heading), [here](#title), [off](https://example.com/x.md).\n"
            ),
            "docs/guide.md": "# Guide\n\n## Setting up\n\nBack to [the top](../README.md#title).\n",
        },
    )
    broken = broken_links(tmp_path, pages)
    assert [(str(b.page), b.line, b.target) for b in broken] == [
        ("README.md", 3, "docs/gone.md"),
        ("README.md", 4, "docs/guide.md#no-such-heading"),
    ]
    assert broken[0].reason == "no such file"
    assert "no-such-heading" in broken[1].reason


def test_the_checker_follows_githubs_slugs_duplicates_and_explicit_anchors(tmp_path):
    pages = _tree(
        tmp_path,
        {
            "README.md": (
                "[a](docs/p.md#sla-policies-business-hours) [b](docs/p.md#wsagent)\n"
                "[c](docs/p.md#notes-1) [d](docs/p.md#kept-here) [e](docs/p.md#latency--webhook--offer)\n"
                "[f](docs/p.md#notes) [g](docs/p.md#snake_case-name) [h](docs/)\n"
                "[i](docs/p.md#notes-2)\n"
            ),
            "docs/p.md": (
                "# SLA: policies, business hours\n\n## `/ws/agent/`\n\n## Notes\n\n## Notes\n\n"
                '<a id="kept-here"></a>\n\n## latency — webhook → offer\n\n## `snake_case` name\n'
            ),
        },
    )
    broken = broken_links(tmp_path, pages)
    assert [b.target for b in broken] == ["docs/p.md#notes-2"]


def test_the_checker_ignores_code(tmp_path):
    pages = _tree(
        tmp_path,
        {
            "README.md": (
                "Inline `[x](missing.md)` is code.\n\n```md\n[y](missing.md)\n```\n\nA [real one](missing.md).\n"
            ),
        },
    )
    assert [(b.line, b.target) for b in broken_links(tmp_path, pages)] == [(7, "missing.md")]
