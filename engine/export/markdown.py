"""Text from a dataset (class names, file names, sentences that quote them) made safe for Markdown.

A class name is whatever a folder or a CSV cell said: ``<img src=x onerror=...>``, ``a|b``
or a name with a line break would otherwise become HTML in a rendered card, split a table
row into extra cells, or end the row. `md_text` shows such a name as the text it is.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Characters Markdown gives a meaning to; a backslash before any of them shows it as itself.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]#|~])")
# Characters that reorder the text around them ("Trojan Source"); shown escaped like controls.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def md_text(text: object, limit: int = 200) -> str:
    """``text`` as literal Markdown on one line: HTML, table pipes, emphasis and controls escaped."""
    raw = str(text)
    if len(raw) > limit:
        raw = raw[: limit - 3] + "..."
    shown = []
    for char in raw:
        if unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS:  # newline, ESC, bidi: as \xNN
            code = ord(char)
            shown.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            shown.append(_MARKDOWN_PUNCTUATION.sub(r"\\\1", char))
    return html.escape("".join(shown), quote=False)
