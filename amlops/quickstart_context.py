"""What the quickstart's stages share (its own module, so a stage imports it without importing the quickstart that
imports the stages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rich.console import Console

from amlops import data as data_mod
from amlops.registry import Registry
from infra.config import StackConfig


@dataclass(frozen=True)
class Trained:
    """One model the quickstart trained and registered: its key in the two-model stack, registry name and version."""

    key: str
    name: str
    version: int
    folder: Path

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass
class Context:
    """What the stages share: the stack's config, the registry and what earlier stages made."""

    stack: str
    cfg: StackConfig
    registry: Registry
    console: Console
    data: data_mod.GeneratedData | None = None
    model_name: str = ""
    model_version: int = 0
    facts: dict = field(default_factory=dict)
    models: dict[str, Trained] = field(default_factory=dict)
    """Every model of the two-model stack by key (`loans`, `diabetes`), set by the train stage."""
    whole: StackConfig | None = None
    """The two-model stack (`stack` migrated plus `models.diabetes`) every later stage works through, model by model."""
    stacks_dir: Path | None = None
    """The folder holding the two-model stack file (what AMLOPS_STACKS_DIR points a CLI command at)."""

    def each(self) -> list[tuple[Trained, StackConfig]]:
        """(model, the two-model stack narrowed to it) for each model, in stack order: what a stage loops over."""
        assert self.whole is not None, "the train stage runs first"
        return [(self.models[key], self.whole.narrow(key)) for key in self.whole.models]


Stage = Callable[[Context], None]
