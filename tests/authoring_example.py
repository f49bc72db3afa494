"""The example practical of docs/authoring.md, as files: every fenced block preceded by
``<!-- file: PATH -->`` in the guide is the file PATH of an assignments folder."""

from __future__ import annotations

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "authoring.md"
BLOCK = re.compile(r"<!-- file: (?P<path>[^ ]+) -->\n```[a-z]*\n(?P<text>.*?)\n```", re.S)


def example_files(guide: Path = GUIDE) -> dict[str, str]:
    return {m["path"]: m["text"] + "\n" for m in BLOCK.finditer(guide.read_text())}


def write_example(root: Path, guide: Path = GUIDE) -> list[Path]:
    """Write the guide's practical into the assignments folder ``root``."""
    written = []
    for relative, text in example_files(guide).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
