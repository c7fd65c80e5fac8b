"""Stack edits keep comments and layout, change only what they must, and refuse invalid configs."""

from __future__ import annotations

import difflib

import pytest

from amlops.stackedit import StackEditor
from infra.config import ConfigError


def test_edit_adds_only_the_new_lines(stacks_copy):
    path = stacks_copy / "Pulumi.prod.yaml"
    before = path.read_text()
    ed = StackEditor(path)
    ed.set("online", "deployments", "green", value={"modelVersion": 2, "instanceType": "Standard_F4s_v2"})
    ed.set("online", "traffic", "green", value=0)
    ed.save()
    after = path.read_text()
    changed = [l for l in difflib.ndiff(before.splitlines(), after.splitlines()) if l[:1] in "+-"]
    assert changed == [
        "+       green:",
        "+         modelVersion: 2",
        "+         instanceType: Standard_F4s_v2",
        "+       green: 0",
    ]
    assert after.startswith("# prod: two instances at least")


def test_invalid_edit_is_refused_and_file_untouched(stacks_copy):
    path = stacks_copy / "Pulumi.prod.yaml"
    before = path.read_text()
    ed = StackEditor(path)
    ed.set("online", "traffic", "blue", value=90)
    with pytest.raises(ConfigError, match="amlops:online.traffic: must sum to 0 or 100, got 90"):
        ed.save()
    assert path.read_text() == before
