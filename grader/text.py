"""Text that came from a submission, made safe to show and to store.

Messages, names, skipped statements and load errors quote what a student wrote (a class name,
a line of code, an exception message, a folder name). Before any of it reaches a terminal, a
report or a results file it goes through :func:`safe_text`:

* control characters become visible escapes: an ``ESC [2J`` in an exception message must not
  clear the instructor's terminal, and a bidi override (U+202E) must not reorder what is shown;
* the length is capped: a 32 MiB class name quoted in four messages once wrote 833 MB of
  reports for one student.

Newlines and tabs are kept by :func:`safe_text` (messages have several lines) and folded by
:func:`safe_line` (a name in a table or a progress bar is one line).
"""

from __future__ import annotations

import re

MAX_MESSAGE = 4_000     # a message, an error, a load error
MAX_LINE = 300          # a name, a statement's first line, a location

# C0 and C1 controls but \n and \t, DEL, and the Unicode format characters that reorder or hide
# text (bidi embeddings/overrides/isolates, zero-width joiners are harmless and kept).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(value: object, limit: int = MAX_MESSAGE) -> str:
    """``value`` as text with control characters shown as escapes, cut to ``limit`` characters
    (before escaping, so the work is bounded too)."""
    text = value if isinstance(value, str) else str(value)
    cut = len(text) - limit
    if cut > 0:
        text = text[:limit]
    text = _UNSAFE.sub(_visible, text.replace("\r\n", "\n").replace("\r", "\n"))
    if cut > 0:
        from grader.i18n import _

        text += _(" […{count:,} more characters]").format(count=cut)
    return text


def safe_line(value: object, limit: int = MAX_LINE) -> str:
    """One line: like :func:`safe_text`, with newlines and tabs folded into spaces."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit * 4:  # fold only what can be shown
        text = text[:limit * 4]
    return safe_text(" ".join(text.split()), limit)
