"""`amlops config migrate`: rewrite a single-model stack file (top-level model/online/batch) into the
`amlops:models` form, keeping its comments, key order and layout.

The model becomes the first entry of `amlops:models` under the key given (default: the stack's
prefix when it is a valid key). Being first, the program declares its components with Pulumi aliases
to their single-model names and keeps its keyless Azure names (StackConfig.migrated), so `pulumi up`
after the rewrite renames nothing in Azure and replaces nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml.comments import CommentedMap

from amlops.errors import UsageError
from amlops.stackedit import MODEL_SECTIONS, StackEditor
from infra.config import MODEL_KEY, PROJECT


@dataclass
class Migration:
    """What the rewrite did: the file, the key, its text before and after."""

    path: Path
    key: str
    before: str
    after: str


def default_key(editor: StackEditor) -> str:
    """The stack's prefix (`loans`) when it is a valid model key, else `main`."""
    prefix = editor.get("prefix")
    return prefix if isinstance(prefix, str) and MODEL_KEY.match(prefix) else "main"


def migrate(path: Path, key: str | None = None, write: bool = True) -> Migration:
    """Move `amlops:model`, `amlops:online`, `amlops:batch` and `amlops:monitor` into `amlops:models.<key>` (where `amlops:model`
    stood), validate the result with the stack schema and write it (unless `write` is False)."""
    editor = StackEditor(path)
    config = editor.doc["config"]
    tops = {section: f"{PROJECT}:{section}" for section in MODEL_SECTIONS}
    if f"{PROJECT}:models" in config:
        raise UsageError(f"{path}: already declares {PROJECT}:models; nothing to migrate")
    if tops["model"] not in config:
        raise UsageError(f"{path}: has no {PROJECT}:model to migrate (a stack in the single-model form declares {PROJECT}:model, online and batch)")
    key = key or default_key(editor)
    if not MODEL_KEY.match(key):
        raise UsageError(f"--key must be 1-12 lowercase letters or digits, starting with a letter, got {key!r}")
    model = config[tops["model"]]
    entry = model if isinstance(model, CommentedMap) else CommentedMap(model or {})
    for section in MODEL_SECTIONS[1:]:
        if tops[section] in config:
            entry[section] = config[tops[section]]
    position = list(config).index(tops["model"])
    for top in tops.values():
        config.pop(top, None)
    config.insert(position, f"{PROJECT}:models", CommentedMap([(key, entry)]))
    before = editor.original
    after = editor.save() if write else editor.validated_text()
    return Migration(path, key, before, after)
