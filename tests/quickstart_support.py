"""What the quickstart's tests share: a stage's title by its first word, and the lines it printed."""

from __future__ import annotations

import re

from amlops import quickstart


def stage_title(word: str) -> str:
    """The title of the stage whose title starts with `word` (`plan` → "plan: the desired state …")."""
    return next(title for title, _ in quickstart.stages() if title.split(":")[0] == word)


def stage_output(text: str, title: str) -> list[str]:
    """The lines a stage printed: between the rule with its title and the runner's `title: N s` line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("─") and f" {title} " in line)
    end = next(i for i in range(start, len(lines)) if re.fullmatch(rf"{re.escape(title)}: \d+\.\d s", lines[i]))
    return lines[start + 1 : end]
