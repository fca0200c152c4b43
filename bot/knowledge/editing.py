"""Adding a question officials asked to an FAQ entry as another phrasing, in its YAML file.

PyYAML cannot write a file back with its comments, so the variant is inserted
as a line of text right where it belongs; the knowledge base is then checked
as `faq check` does and reloaded. If the check fails, the file is put back as
it was and the old FAQ keeps serving.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.knowledge.base import Entry, Problem
from bot.knowledge.live import Faq

_KEY = re.compile(r"^(\s*)(-\s+)?(\w+):")


def _insert_variant(lines: list[str], entry_line: int, text: str) -> list[str]:
    """The file's lines with `text` added to the variants of the entry starting at `entry_line`."""
    start = entry_line - 1  # the "- id: ..." line
    first = _KEY.match(lines[start])
    indent = (len(first.group(1)) + len(first.group(2) or "")) if first else 4
    quoted = json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML scalar
    end = start + 1
    while end < len(lines):
        match = _KEY.match(lines[end])
        stripped = lines[end].strip()
        if stripped and not stripped.startswith("#") and match and len(match.group(1)) < indent:
            break  # the next entry (or the end of the list)
        if stripped.startswith("- id:") and len(lines[end]) - len(lines[end].lstrip()) < indent:
            break
        end += 1
    for i in range(start, end):
        match = _KEY.match(lines[i])
        if match and match.group(3) == "variants" and len(match.group(1)) + len(match.group(2) or "") == indent:
            rest = lines[i].split(":", 1)[1].strip()
            if rest.startswith("["):  # flow style: [a, b]
                inner = rest[1:rest.rindex("]")].strip()
                items = f"{inner}, {quoted}" if inner else quoted
                lines[i] = f"{' ' * indent}variants: [{items}]\n"
                return lines
            j = i + 1
            while j < end and lines[j].strip().startswith("- "):
                j += 1
            return lines[:j] + [f"{' ' * (indent + 2)}- {quoted}\n"] + lines[j:]
    # no variants yet: add the key after the question
    for i in range(start, end):
        match = _KEY.match(lines[i])
        if match and match.group(3) == "question":
            return lines[: i + 1] + [f"{' ' * indent}variants:\n", f"{' ' * (indent + 2)}- {quoted}\n"] + lines[i + 1:]
    raise ValueError(f"entry {entry_line}: no question line found")


def add_variant(faq: Faq, entry: Entry, text: str) -> tuple[bool, list[Problem]]:
    """Write the variant, check and reload; on any error put the file back."""
    path = Path(entry.file)
    original = path.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    path.write_text("".join(_insert_variant(lines, entry.line, text)), encoding="utf-8")
    ok, problems = faq.reload()
    if not ok:
        path.write_text(original, encoding="utf-8")
    return ok, problems
