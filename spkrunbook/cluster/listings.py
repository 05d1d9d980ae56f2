"""What every parser of a command's printed output shares: fixed columns, and lines it could not read kept.

Each parser (``ovn.listings``, ``tmm``, ``steps.debug.parsers``) takes the text a
command printed and returns a ``pandas.DataFrame`` with fixed columns (so an empty
result still has its columns). Lines a parser cannot read are not silently dropped:
they are listed in ``df.attrs["skipped"]`` as ``(line_number, line)``. Input that is
not the command's output at all raises ``ParseError`` saying what was expected.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["frame", "text"]


def frame(rows: list[dict[str, Any]], columns: list[str], skipped: list[tuple[int, str]]) -> pd.DataFrame:
    """The rows as a table with ``columns`` (present even when empty) and the unread lines in ``attrs``."""
    df = pd.DataFrame(rows, columns=columns)
    df.attrs["skipped"] = skipped
    return df


def text(data: str | bytes) -> str:
    """What a command printed, as text (bytes decoded as UTF-8, bad bytes replaced)."""
    return data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else str(data)
