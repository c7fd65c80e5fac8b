"""Check a git revision out into a temporary worktree for as long as a block runs, then remove it.

Plain `git` through subprocess: GitPython has no worktree API of its own and would run
the same command lines.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from amlops.errors import AmlopsError, UsageError


class GitError(AmlopsError):
    """A git command failed; the message carries git's own words."""


class RevisionNotFound(UsageError):
    """The revision to compare against does not name a commit."""


def git(repo: Path, *args: str) -> str:
    """Run `git -C repo ARGS`; returns stdout, raises GitError with git's stderr."""
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed (amlops diff checks the base revision out with `git worktree`)") from None
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {repo}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def repo_root(path: Path) -> Path:
    """The top folder of the git repository that holds `path`."""
    try:
        return Path(git(path, "rev-parse", "--show-toplevel").strip())
    except GitError:
        raise UsageError(f"{path} is not inside a git repository; amlops diff compares git revisions") from None


def resolve(repo: Path, rev: str) -> str:
    """The full commit id `rev` names; RevisionNotFound if it names none."""
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
    except GitError:
        raise RevisionNotFound(
            f"{rev!r} is not a commit in {repo} (try HEAD, origin/main or a commit id; "
            "in CI fetch the base branch first, e.g. actions/checkout with fetch-depth: 0)"
        ) from None


def has_file(repo: Path, commit: str, rel: str) -> bool:
    """Whether the tree of `commit` holds the file `rel` (a path from the repository root)."""
    try:
        git(repo, "cat-file", "-e", f"{commit}:{rel}")
    except GitError:
        return False
    return True


@contextlib.contextmanager
def checkout(repo: Path, rev: str) -> Iterator[Path]:
    """`git worktree add --detach <tmp> REV`, yield the folder, and always remove the worktree."""
    commit = resolve(repo, rev)
    holder = Path(tempfile.mkdtemp(prefix="amlops-diff-"))
    tree = holder / "tree"
    try:
        git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        yield tree
    finally:
        with contextlib.suppress(GitError):
            git(repo, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(holder, ignore_errors=True)
        with contextlib.suppress(GitError):
            git(repo, "worktree", "prune")


def copy_working_tree(repo: Path, dest: Path) -> Path:
    """Copy the working tree's files that git sees (tracked or untracked, not ignored) into `dest`."""
    listed = git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for rel in filter(None, listed):
        src = repo / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest
