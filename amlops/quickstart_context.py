"""What the quickstart's stages share (its own module, so a stage imports it without importing the quickstart that
imports the stages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from rich.console import Console

from amlops import data as data_mod
from amlops.registry import Registry
from infra.config import StackConfig


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


Stage = Callable[[Context], None]
