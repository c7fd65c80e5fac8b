"""`amlops promote --finish` in a stack that requires a canary (prod): proof from the stack file's git history."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from amlops.errors import UsageError
from amlops.promotion import CanaryRequired, promote, stack_history
from cli_support import FakeRegistry, run_cli

ROOT = Path(__file__).resolve().parent.parent
NAME = "chapter12-loans"
REFUSED = (
    "stack dev requires a canary before --finish (amlops:promotion.requireCanary), and chapter12-loans:2 never served "
    "a live traffic share in {where}; deploy a step first (`amlops promote chapter12-loans:2 --to dev "
    "--traffic DEPLOYMENT=10`), or pass --override-canary REASON"
)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=amlops-test", "-c", "user.email=test@example.com", *args],
        capture_output=True, text=True, check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git checkout whose dev stack requires a canary, committed once (blue serves version 1)."""
    root = tmp_path / "checkout"
    (root / "stacks").mkdir(parents=True)
    text = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    marker = "  amlops:online:\n"
    assert text.count(marker) == 1
    (root / "stacks" / "Pulumi.dev.yaml").write_text(text.replace(marker, "  amlops:promotion:\n    requireCanary: true\n" + marker))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "stacks")
    git(root, "commit", "-q", "-m", "dev requires a canary")
    return root


def step(repo: Path, commit: bool = True, **kwargs) -> None:
    promote("dev", NAME, 2, registry=FakeRegistry(), stacks_dir=repo / "stacks", **kwargs)
    if commit:
        git(repo, "commit", "-q", "-am", f"promote {kwargs}")


def test_promote_canary_finish_without_any_share_is_refused_and_file_untouched(repo):
    step(repo)  # start: green serves 2 at 0%
    before = (repo / "stacks" / "Pulumi.dev.yaml").read_text()
    with pytest.raises(CanaryRequired) as err:
        step(repo, commit=False, finish=True)
    assert str(err.value) == REFUSED.format(where="2 committed revision(s) of stacks/Pulumi.dev.yaml")
    assert (repo / "stacks" / "Pulumi.dev.yaml").read_text() == before


def test_promote_canary_mirror_or_uncommitted_traffic_is_no_canary(repo):
    step(repo, mirror=10)
    step(repo, commit=False, traffic={"green": 10})  # in the working tree only: never deployed
    with pytest.raises(CanaryRequired) as err:
        step(repo, commit=False, finish=True)
    assert str(err.value) == REFUSED.format(where="2 committed revision(s) of stacks/Pulumi.dev.yaml")


def test_promote_canary_committed_share_lets_finish_pass_naming_the_commit(repo):
    step(repo, traffic={"green": 10})
    canary_commit = git(repo, "rev-parse", "HEAD")
    promotion = promote("dev", NAME, 2, registry=FakeRegistry(), stacks_dir=repo / "stacks", finish=True)
    assert promotion.actions[0] == f"canary: green served chapter12-loans:2 at 10% of live traffic in {canary_commit[:12]}"
    assert promotion.actions[-1] == "green takes 100% of live traffic; amlops:model.version is 2"
    assert [c for c, _ in stack_history(repo, "dev")][0] == canary_commit


def test_promote_canary_override_passes_and_logs_the_reason(repo, caplog):
    step(repo)
    with caplog.at_level(logging.WARNING, logger="amlops.promotion"):
        promotion = promote(
            "dev", NAME, 2, registry=FakeRegistry(), stacks_dir=repo / "stacks", finish=True, override_canary=" incident 42: hotfix "
        )
    assert promotion.actions[0] == "canary rule overridden: incident 42: hotfix"
    assert caplog.messages == ["promote --finish chapter12-loans:2 in dev without a deployed canary: incident 42: hotfix"]


def test_promote_canary_outside_git_has_no_history(tmp_path, repo):
    with pytest.raises(CanaryRequired) as err:
        promote("dev", NAME, 2, registry=FakeRegistry(), stacks_dir=repo / "stacks", finish=True, history=[])
    assert str(err.value) == REFUSED.format(where="no committed revision of stacks/Pulumi.dev.yaml")
    assert stack_history(tmp_path / "not-a-repo", "dev") == []


def test_promote_canary_override_without_finish_is_a_usage_error(repo):
    with pytest.raises(UsageError) as err:
        step(repo, commit=False, override_canary="because")
    assert str(err.value) == "--override-canary only applies to --finish"


def test_promote_canary_cli_refuses_then_accepts_an_override(repo, capsys, monkeypatch):
    monkeypatch.setattr("amlops.azure.registry.AzureModelRegistry", lambda name: FakeRegistry())  # dev names loansreg
    step(repo)
    args = ("promote", f"{NAME}:2", "--to", "dev", "--finish", "--no-diff", "--repo", str(repo))
    code, out, err = run_cli(capsys, monkeypatch, *args)
    assert (code, out) == (1, "")
    assert err == "error: " + REFUSED.format(where="2 committed revision(s) of stacks/Pulumi.dev.yaml") + "\n"
    code, out, err = run_cli(capsys, monkeypatch, *args, "--override-canary", "rollback of a bad canary")
    assert (code, err) == (0, "")
    assert out.splitlines()[1] == "- canary rule overridden: rollback of a bad canary"
