"""Regenerate the README's settings and error tables from the code (tests check them)."""

from __future__ import annotations

import re
from pathlib import Path

from timberyard.errors import DESCRIPTIONS, STATUS_BY_CODE
from timberyard.settings import describe

README = Path(__file__).resolve().parents[1] / "README.md"


def table(marker: str, rows: list[str], text: str) -> str:
    pattern = rf"(<!-- {marker} -->\n\|[^\n]*\|\n\|[^\n]*\|\n)(.*?)(<!-- /{marker} -->)"
    return re.sub(pattern, lambda m: m.group(1) + "\n".join(rows) + "\n" + m.group(3), text, flags=re.S)


def main() -> None:
    text = README.read_text()
    text = table("settings-table", [f"| `{n}` | `{e}` | `{d}` | {h} |" for n, d, e, h in describe()], text)
    text = table("errors-table",
                 [f"| `{c}` | {STATUS_BY_CODE[c]} | {DESCRIPTIONS[c]} |" for c in STATUS_BY_CODE], text)
    README.write_text(text)


if __name__ == "__main__":
    main()
