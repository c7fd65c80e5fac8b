"""`--if-better` compares with the best registered version, not the latest, and says which."""

from __future__ import annotations

import re

from amlops.registry import Registry
from cli_support import run_cli

NAME = "chapter12-loans"


def test_if_better_after_a_worse_version_compares_with_the_best(state, trained_model_dir):
    reg = Registry()
    reg.register(NAME, trained_model_dir, accuracy=0.90)
    reg.register(NAME, trained_model_dir, accuracy=0.70)  # a worse v2, registered without the gate
    result = reg.register(NAME, trained_model_dir, if_better=True, accuracy=0.80)
    assert (result.registered, result.best.version) == (None, 1)
    assert result.describe() == (
        "not registered: the candidate's accuracy 0.8000 does not beat chapter12-loans:1's 0.9000, "
        "the best registered version (Δ -0.1000)"
    )
    better = reg.register(NAME, trained_model_dir, if_better=True, accuracy=0.95)
    assert better.describe() == (
        "registered chapter12-loans:3: accuracy 0.9500 vs chapter12-loans:1's 0.9000, the best registered version (Δ +0.0500)"
    )


def test_best_is_the_earliest_of_equally_accurate_versions(state, trained_model_dir):
    reg = Registry()
    for accuracy in (0.8, 0.9, 0.9):
        reg.register(NAME, trained_model_dir, accuracy=accuracy)
    assert reg.best(NAME).version == 2


def test_model_register_if_better_prints_the_version_it_compared_with(state, trained_model_dir, capsys, monkeypatch):
    Registry().register(NAME, trained_model_dir, accuracy=0.99)
    code, out, _ = run_cli(capsys, monkeypatch, "model", "register", "--path", str(trained_model_dir), "--if-better")
    assert code == 0
    assert re.fullmatch(
        r"not registered: the candidate's accuracy 0\.\d{4} does not beat chapter12-loans:1's 0\.9900, "
        r"the best registered version \(Δ -0\.\d{4}\)\n",
        out,
    ), out
