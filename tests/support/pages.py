"""Reading a rendered page the way a person does, in the browser itself: what a table shows, and which
words the layout broke across lines."""

from __future__ import annotations

from typing import Any

#: Every word (a run of non-space characters: an address, a port, a name, a number) of every table cell on
#: the page whose rendered boxes sit on more than one line; folded (closed ``<details>``) text is not laid
#: out and not measured. Returns ``[{"text": cell text, "word": the word, "lines": n}]``.
BROKEN_WORDS_JS = r"""
(root) => {
  const out = [];
  const scope = root ? document.querySelectorAll(root) : [document];
  for (const base of scope) {
    for (const cell of base.querySelectorAll('td, th')) {
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const re = /\S+/g;
        let m;
        while ((m = re.exec(node.data)) !== null) {
          const range = document.createRange();
          range.setStart(node, m.index);
          range.setEnd(node, m.index + m[0].length);
          const tops = new Set([...range.getClientRects()].filter(r => r.width > 0 && r.height > 0)
                                                          .map(r => Math.round(r.top)));
          if (tops.size > 1) out.push({text: cell.innerText.slice(0, 120), word: m[0], lines: tops.size});
        }
      }
    }
  }
  return out;
}
"""

#: The rows of ``table[data-table=NAME]`` as {header: cell text}; heading rows of a grouped table (one
#: cell spanning the row) give ``{"group": text}``; a cell's leading no-break spaces are kept.
TABLE_ROWS_JS = r"""
(name) => {
  const t = document.querySelector(`table[data-table="${name}"]`);
  if (!t) return null;
  const heads = [...t.querySelectorAll('thead th')].map(th => th.innerText.trim());
  return [...t.querySelectorAll('tbody tr')].map(tr => {
    const cells = [...tr.children];
    if (cells.length === 1 && cells[0].colSpan > 1) return {group: cells[0].innerText.trim()};
    const row = {};
    // leading no-break spaces are kept: they are the indentation of a tree (the protocol hierarchy)
    cells.forEach((c, i) => { row[heads[i]] = c.innerText.replace(/^[ \t\r\n]+|\s+$/g, ''); });
    return row;
  });
}
"""


def table_rows(page: Any, name: str) -> list[dict[str, str]]:
    rows = page.evaluate(TABLE_ROWS_JS, name)
    assert rows is not None, f"no table {name!r} on the page"
    return list(rows)


def broken_words(page: Any, scope: str | None = None) -> list[dict[str, Any]]:
    return list(page.evaluate(BROKEN_WORDS_JS, scope))
