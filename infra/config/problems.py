"""What a stack's config reports: one Problem per wrong key, all of them in one ConfigError."""

from __future__ import annotations

from dataclasses import dataclass

from infra.config.base import PROJECT


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a stack's config, at a dotted key path."""

    path: tuple[str | int, ...]
    message: str

    def key(self) -> str:
        """The key as a user writes it: `amlops:online.traffic`."""
        parts = [str(p) for p in self.path]
        if not parts:
            return f"{PROJECT}:"
        return f"{PROJECT}:" + ".".join(parts)


class ConfigError(Exception):
    """A stack's config is invalid; carries every problem found."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(f"{self.source}: {p.key()}: {p.message}" for p in self.problems)
