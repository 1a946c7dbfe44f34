"""Run the curl examples of a seed document verbatim, with only host and key changed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"


def seed_text(prefix: str) -> str:
    """The text of the seed whose file name starts with `prefix`."""
    matches = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    assert matches, f"seed {prefix} not found in {SEEDS}: the tests read shared/seeds beside the repo"
    return matches[0].read_text()


def curl_commands(text: str) -> list[tuple[str, str]]:
    """(title, command) for every curl example: the line before it is its title."""
    lines = text.splitlines()
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("curl "):
            title = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            block = [lines[i]]
            while _open(block) and i + 1 < len(lines):
                i += 1
                block.append(lines[i])
            command = "\n".join(block)
            # Seed 001's page glues its response heading onto the closing quote.
            command = re.sub(r"\}'Response$", "}'", command)
            out.append((title, command))
        i += 1
    return out


def _open(block: list[str]) -> bool:
    text = "\n".join(block)
    if text.count("'") % 2 == 1 or text.count('"') % 2 == 1 and "'" not in text:
        return True
    return text.rstrip().endswith("\\")


def run(command: str, base_url: str, key: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a curl example against our server; returns (status, body)."""
    command = re.sub(r"https://[a-zA-Z0-9.\-]+", base_url, command)
    command = re.sub(r"Bearer [A-Za-z0-9_]+", f"Bearer {key}", command)
    command = command.replace("curl ", "curl -s -w '\\n%{http_code}' ", 1)
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30, env=env)
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body
