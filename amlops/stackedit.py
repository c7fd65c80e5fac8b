"""Edit a stack file in place, keeping its comments, key order and layout (ruamel round-trip)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from amlops.atomicfile import write_text
from amlops.errors import UsageError
from amlops.plan.document import lookup
from amlops.stackfile import project_keys
from infra.config import PROJECT, parse_config


def _yaml() -> YAML:
    y = YAML()  # round-trip mode
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    return y


MODEL_SECTIONS = ("model", "online", "batch", "monitor")
"""The single-model form's top-level keys: in the `models` form they live in one model's entry."""


class StackEditor:
    """Load a stack file, change keys by path, validate, then write it back whole.

    Paths are written as in the single-model form (`online.deployments.blue`, `model.version`); after
    `focus(key)` on a stack file in the `models` form they reach that model's entry
    (`models.<key>.online.deployments.blue`, `models.<key>.version`), so one edit serves both forms.
    """

    def __init__(self, path: Path):
        self.path = path
        self.model_key: str | None = None
        self.original = path.read_text()
        self.doc = _yaml().load(self.original)
        if not isinstance(self.doc, dict) or not isinstance(self.doc.get("config"), dict):
            raise UsageError(f"{path}: has no `config:` mapping")

    def _top(self, key: str) -> str:
        return f"{PROJECT}:{key}"

    def focus(self, key: str | None) -> "StackEditor":
        """Edit model `key`'s entry of `amlops:models` (None: the single-model form's top-level keys)."""
        self.model_key = key
        return self

    def key(self, *path: str) -> str:
        """How a user names the key at `path`: `amlops:models.loans.online.traffic` (focused) or `amlops:online.traffic`."""
        return f"{PROJECT}:" + ".".join(self._path(path))

    def _path(self, path: tuple[str, ...]) -> tuple[str, ...]:
        if self.model_key is None or path[0] not in MODEL_SECTIONS:
            return path
        return ("models", self.model_key, *(path[1:] if path[0] == "model" else path))

    def get(self, *path: str) -> Any:
        """The value at (top-level key, nested keys…), or None."""
        path = self._path(path)
        return lookup(self.doc["config"], (self._top(path[0]), *path[1:]))

    def set(self, *path: str, value: Any) -> None:
        """Set a value, creating intermediate mappings; existing keys keep their position."""
        path = self._path(path)
        config = self.doc["config"]
        top = self._top(path[0])
        if len(path) == 1:
            config[top] = value
            return
        node = config.get(top)
        if node is None:
            node = config[top] = CommentedMap()
        for part in path[1:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = CommentedMap()
            node = nxt
        node[path[-1]] = value

    def delete(self, *path: str) -> None:
        """Remove a key if present."""
        path = self._path(path)
        if len(path) == 1:
            self.doc["config"].pop(self._top(path[0]), None)
            return
        node = self.get(*path[:-1])
        if isinstance(node, dict):
            node.pop(path[-1], None)

    def text(self) -> str:
        buf = io.StringIO()
        _yaml().dump(self.doc, buf)
        return buf.getvalue()

    def validated_text(self) -> str:
        """The edited file's text, its config validated with the stack schema (ConfigError otherwise)."""
        import yaml

        text = self.text()
        parse_config(project_keys(yaml.safe_load(text)["config"]), source=str(self.path))
        return text

    def save(self) -> str:
        """Validate the edited config with the stack schema, then write atomically; returns the text."""
        text = self.validated_text()
        write_text(self.path, text)
        return text
