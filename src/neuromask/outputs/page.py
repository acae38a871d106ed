"""One page written twice: as Markdown and as a self-contained HTML file.

The benchmark's report, the BNN study's report and ``neuromask compare``'s page are each
a :class:`Page`: a list of blocks (headings, paragraphs, lists, tables, pictures,
preformatted text) rendered by the same code to both formats, and written atomically::

    page = Page("neuromask benchmark")
    page.heading(2, "Goals")
    page.items(["energy pointing game: 0.77 [0.70, 0.83]"])
    page.table(["method", "AUROC ↑"], [[Cell("neuromask", bold=True), "0.91"]])
    page.image("charts/auroc.png", "AUROC per method")
    page.write(out / "results.md", out / "index.html")

Text is escaped for HTML and written as it is in Markdown (where ``**`` and backticks keep
their meaning).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._core import write_text

# A readable page with no external files: tables with borders, pictures that fit.
STYLE = (
    "body{font-family:sans-serif;margin:2em auto;max-width:90em}"
    "table{border-collapse:collapse;font-size:85%;margin:0.5em 0}"
    "td,th{border:1px solid #ccc;padding:3px 6px}"
    "img{max-width:100%;margin:4px}pre{font-size:80%;overflow-x:auto}"
)


@dataclass(frozen=True)
class Cell:
    """A table cell: its text, in bold when ``bold``."""

    text: str
    bold: bool = False


@dataclass(frozen=True)
class _Heading:
    level: int
    text: str


@dataclass(frozen=True)
class _Paragraph:
    text: str


@dataclass(frozen=True)
class _Items:
    items: list[str]


@dataclass(frozen=True)
class _Table:
    header: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class _Images:
    sources: list[tuple[str, str]]  # (src, alt)


@dataclass(frozen=True)
class _Preformatted:
    text: str
    markdown: str | None


_Block = _Heading | _Paragraph | _Items | _Table | _Images | _Preformatted


@dataclass
class Page:
    """A page of blocks; ``title`` is its first heading and the HTML title.

    ``style`` is extra CSS for the HTML page (e.g. right-aligned numbers, smaller pictures).
    """

    title: str
    style: str = ""
    blocks: list[_Block] = field(default_factory=list)

    def heading(self, level: int, text: str) -> None:
        self.blocks.append(_Heading(level, text))

    def paragraph(self, text: str) -> None:
        self.blocks.append(_Paragraph(text))

    def items(self, items: Sequence[str]) -> None:
        """A bulleted list."""
        self.blocks.append(_Items(list(items)))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str | Cell]]) -> None:
        """A table; a cell is text, or a :class:`Cell` to set it in bold."""
        cells = [[c if isinstance(c, Cell) else Cell(c) for c in row] for row in rows]
        self.blocks.append(_Table(list(header), cells))

    def image(self, src: str, alt: str = "") -> None:
        """A picture, ``src`` relative to the page."""
        self.blocks.append(_Images([(src, alt)]))

    def images(self, sources: Sequence[str]) -> None:
        """Pictures side by side (one paragraph)."""
        self.blocks.append(_Images([(src, "") for src in sources]))

    def preformatted(self, text: str, *, markdown: str | None = None) -> None:
        """Text kept as it is (a code block); ``markdown``: a paragraph the Markdown shows instead."""
        self.blocks.append(_Preformatted(text, markdown))

    def markdown(self) -> str:
        out = [f"# {self.title}"]
        for block in self.blocks:
            if isinstance(block, _Heading):
                out.append("#" * block.level + " " + block.text)
            elif isinstance(block, _Paragraph):
                out.append(block.text)
            elif isinstance(block, _Items):
                out.append("\n".join(f"- {i}" for i in block.items))
            elif isinstance(block, _Table):
                lines = ["| " + " | ".join(block.header) + " |", "|" + "---|" * len(block.header)]
                lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
                out.append("\n".join(lines))
            elif isinstance(block, _Images):
                out.append(" ".join(f"![{alt}]({src})" for src, alt in block.sources))
            else:
                out.append(f"```\n{block.text}\n```" if block.markdown is None else block.markdown)
        return "\n\n".join(out) + "\n"

    def html(self) -> str:
        e = html.escape
        parts = [
            "<!doctype html>",
            f"<html><head><meta charset='utf-8'><title>{e(self.title)}</title>",
            f"<style>{STYLE}{self.style}</style></head><body>",
            f"<h1>{e(self.title)}</h1>",
        ]
        for block in self.blocks:
            if isinstance(block, _Heading):
                parts.append(f"<h{block.level}>{e(block.text)}</h{block.level}>")
            elif isinstance(block, _Paragraph):
                parts.append(f"<p>{e(block.text)}</p>")
            elif isinstance(block, _Items):
                parts.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in block.items) + "</ul>")
            elif isinstance(block, _Table):
                head = "".join(f"<th>{e(h)}</th>" for h in block.header)
                body = "".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in block.rows)
                parts.append(f"<table><tr>{head}</tr>{body}</table>")
            elif isinstance(block, _Images):
                parts.append(
                    "<p>" + "".join(f"<img src='{e(src)}' alt='{e(alt)}'>" for src, alt in block.sources) + "</p>"
                )
            else:
                parts.append(f"<pre>{e(block.text)}</pre>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"

    def write(self, markdown: Path | None, page: Path | None) -> list[Path]:
        """Write the Markdown to ``markdown`` and the HTML to ``page`` (either may be None), each atomically."""
        written = []
        if markdown is not None:
            written.append(write_text(markdown, self.markdown()))
        if page is not None:
            written.append(write_text(page, self.html()))
        return written


def _md_cell(cell: Cell) -> str:
    return f"**{cell.text}**" if cell.bold else cell.text


def _html_cell(cell: Cell) -> str:
    text = html.escape(cell.text)
    return f"<td><b>{text}</b></td>" if cell.bold else f"<td>{text}</td>"
