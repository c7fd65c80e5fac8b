"""Promote a registered model version into a stack: the accuracy gate, then a blue/green edit of its stack file.

Steps, each one `amlops promote NAME:VERSION --to STACK` call:
  start     a new deployment (next free colour) serving VERSION with 0% traffic (or mirror traffic),
            its settings copied from the deployment that serves the most traffic now;
  --traffic DEPLOY=PCT … sets those shares, the rest goes to the current live deployment;
  --finish  all traffic to the candidate, `model.version` = VERSION, the other deployments removed.

In a stack with `amlops:promotion.requireCanary` (prod), --finish also needs proof of a canary: a
committed revision of the stack file (main deploys every commit) in which a deployment serving
VERSION took a live share of 1-99%, or an explicit `--override-canary REASON`, which is logged.
"""

from __future__ import annotations

import difflib
import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol

from amlops.deployments import live_deployment
from amlops.errors import AmlopsError, UsageError
from amlops.paths import STACKS_DIR
from amlops.registry import ModelVersion
from amlops.stackedit import StackEditor
from amlops.stackfile import load_stack, stack_path
from infra.config import PROJECT, StackConfig
from infra.errors import EndpointChoiceError

log = logging.getLogger(__name__)

COLOURS = ("blue", "green", "red", "yellow", "purple", "orange", "teal", "indigo")
"""Deployment names a promotion picks from, in order: the first one not in use."""
MAX_MIRROR = 50


class Versions(Protocol):
    """What the gate reads of a registry: amlops.registry.Registry (MLflow) or amlops.azure.registry.AzureModelRegistry."""

    def get(self, name: str, version: int | None = None) -> ModelVersion: ...


class PromotionRefused(AmlopsError):
    """The gate refused the candidate: it is less accurate than what the stack serves, or has no accuracy."""


class CanaryRequired(PromotionRefused):
    """--finish in a stack that requires a canary, with no earlier deployed canary share and no override."""


@dataclass(frozen=True)
class Canary:
    """Where the candidate served a live share: the commit, the deployment and its percent."""

    commit: str
    deployment: str
    percent: int


def stack_history(repo: Path, stack: str, ref: str = "HEAD") -> list[tuple[str, str]]:
    """(commit, text) of every committed revision of stacks/Pulumi.<stack>.yaml on `ref`'s first-parent line, newest first.

    Commits on main are what deploy.yml deployed; a checkout that is not a git repository has no history.
    """
    rel = f"stacks/Pulumi.{stack}.yaml"

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)

    done = git("log", "--first-parent", "--format=%H", ref, "--", rel)
    if done.returncode != 0:
        return []
    return [(commit, git("show", f"{commit}:{rel}").stdout) for commit in done.stdout.split()]


def _online_sections(config: Mapping[str, Any], name: str | None) -> list[tuple[Mapping[str, Any], int]]:
    """(online section, pinned version) of each model a stack file revision serves as `name`, in either form:
    `amlops:models` entries with that name, or the single-model form's `amlops:online` and `amlops:model`."""
    found = []
    models = config.get(f"{PROJECT}:models")
    for entry in (models.values() if isinstance(models, Mapping) else ()):
        if isinstance(entry, Mapping) and (name is None or entry.get("name") == name):
            found.append((entry.get("online") or {}, int(entry.get("version") or 0)))
    if f"{PROJECT}:online" in config:  # one model: the revision's pin is the one it served
        found.append((config.get(f"{PROJECT}:online") or {}, int((config.get(f"{PROJECT}:model") or {}).get("version") or 0)))
    return found


def find_canary(history: list[tuple[str, str]], version: int, name: str | None = None) -> Canary | None:
    """The newest revision in which a deployment serving `version` (of model `name`, when the revision
    declares several models) took 1-99% of live traffic."""
    import yaml

    for commit, text in history:
        try:
            config = (yaml.safe_load(text) or {}).get("config") or {}
            sections = [(online.get("deployments") or {}, online.get("traffic") or {}, default) for online, default in _online_sections(config, name)]
        except (yaml.YAMLError, AttributeError, TypeError, ValueError):
            continue  # an unreadable old revision proves nothing
        for deployments, traffic, default in sections:
            try:
                for dep, settings in deployments.items():
                    served = int((settings or {}).get("modelVersion") or default)
                    share = traffic.get(dep) or 0
                    if served == version and isinstance(share, int) and 0 < share < 100:
                        return Canary(commit, dep, share)
            except (AttributeError, TypeError, ValueError):
                continue
    return None


def check_canary(
    stack: str, name: str, version: int, history: list[tuple[str, str]], override: str | None
) -> str:
    """The action line that justifies --finish in a stack that requires a canary; raises CanaryRequired."""
    found = find_canary(history, version, name)
    if found is not None:
        return f"canary: {found.deployment} served {name}:{version} at {found.percent}% of live traffic in {found.commit[:12]}"
    if override is not None and override.strip():
        log.warning("promote --finish %s:%s in %s without a deployed canary: %s", name, version, stack, override.strip())
        return f"canary rule overridden: {override.strip()}"
    where = f"{len(history)} committed revision(s) of stacks/Pulumi.{stack}.yaml" if history else f"no committed revision of stacks/Pulumi.{stack}.yaml"
    raise CanaryRequired(
        f"stack {stack} requires a canary before --finish (amlops:promotion.requireCanary), and {name}:{version} never "
        f"served a live traffic share in {where}; deploy a step first (`amlops promote {name}:{version} --to {stack} "
        f"--traffic DEPLOYMENT=10`), or pass --override-canary REASON"
    )


@dataclass(frozen=True)
class Gate:
    """The gate's decision: the candidate, the version it is compared with, and why it passed."""

    candidate: ModelVersion
    baseline: ModelVersion | None
    baseline_deployment: str | None

    def describe(self) -> str:
        c = self.candidate
        acc = f"{c.accuracy:.4f}" if c.accuracy is not None else "unknown"
        if self.baseline is None:
            return f"gate passed: {c.name}:{c.version} (accuracy {acc}); nothing else serves traffic to compare with"
        b = self.baseline
        if b.accuracy is None:
            return f"gate passed: {c.name}:{c.version} (accuracy {acc}); {b.name}:{b.version} on {self.baseline_deployment} has no accuracy recorded"
        return (
            f"gate passed: {c.name}:{c.version} accuracy {acc} ≥ {b.name}:{b.version}'s {b.accuracy:.4f} "
            f"(served by {self.baseline_deployment}; Δ {c.accuracy - b.accuracy:+.4f})"
        )


@dataclass
class Promotion:
    """What a promotion step did to one stack file."""

    stack: str
    path: Path
    gate: Gate
    deployment: str
    before: str
    after: str = ""
    actions: list[str] = field(default_factory=list)

    def unified_diff(self, label: str | None = None) -> str:
        """The stack file's change as a unified diff (empty when nothing changed)."""
        name = label or self.path.name
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True), self.after.splitlines(keepends=True), f"a/{name}", f"b/{name}"
            )
        )


def _plain(node: Any) -> Any:
    """A ruamel node as plain dicts/lists, so a copy carries none of the original's comments."""
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def serving_key(cfg: StackConfig, stack: str, name: str, endpoint: str | None = None) -> str:
    """The key of the stack's model registered as `name`: the one `--endpoint` names (an endpoint name or model
    key), else the only model of that name; a UsageError naming the stack's models otherwise."""
    served = {k: m for k, m in cfg.models.items() if m.name == name}
    listing = "; ".join(f"{k}: {m.name} ({', '.join(m.endpoint_names())})" for k, m in cfg.models.items())
    if endpoint is not None:
        try:
            key, m = cfg.select(endpoint)
        except EndpointChoiceError as exc:
            raise UsageError(f"stack {stack}: {exc}") from None
        if m.name != name:
            raise UsageError(f"stack {stack}: --endpoint {endpoint} serves model {m.name!r}, not {name!r} (models: {listing})")
        return key
    if not served and len(cfg.models) == 1:
        only = next(iter(cfg.models.values())).name
        raise UsageError(f"stack {stack} serves model {only!r}, not {name!r}; promote {only}:VERSION")
    if not served:
        raise UsageError(f"stack {stack} serves no model {name!r} (models: {listing}); promote one of those names")
    if len(served) > 1:
        raise UsageError(f"stack {stack} serves {name!r} as {len(served)} models ({', '.join(served)}); choose one with --endpoint")
    return next(iter(served))


def candidate_deployment(cfg: StackConfig, version: int) -> str | None:
    """The deployment that already serves `version`, if any."""
    for name in cfg.online.deployments:
        if cfg.deployment_model_version(name) == version:
            return name
    return None


def next_colour(taken: set[str]) -> str:
    for colour in COLOURS:
        if colour not in taken:
            return colour
    raise UsageError(f"every deployment name a promotion uses is taken ({', '.join(COLOURS)}); finish or remove a deployment first")


def check_gate(registry: Versions, cfg: StackConfig, name: str, version: int) -> Gate:
    """The candidate exists and its accuracy is at least that of the version the live deployment serves."""
    candidate = registry.get(name, version)
    if candidate.accuracy is None:
        raise PromotionRefused(
            f"{name}:{version} has no accuracy recorded in the registry, so the gate cannot compare it; "
            f"register it with `amlops model register --accuracy X`"
        )
    own = candidate_deployment(cfg, version)
    live = live_deployment(cfg, exclude={own} if own else set())
    if live is None:
        return Gate(candidate, None, None)
    baseline = registry.get(name, cfg.deployment_model_version(live))
    if baseline.accuracy is not None and candidate.accuracy < baseline.accuracy:
        raise PromotionRefused(
            f"{name}:{version} (accuracy {candidate.accuracy:.4f}) is less accurate than {name}:{baseline.version} "
            f"({baseline.accuracy:.4f}), which {live} serves in this stack now (Δ {candidate.accuracy - baseline.accuracy:+.4f}); "
            "promote a version at least as accurate"
        )
    return Gate(candidate, baseline, live)


def parse_traffic(items: list[str]) -> dict[str, int]:
    """`["green=10"]` → {"green": 10}; UsageError naming the bad item."""
    shares: dict[str, int] = {}
    for item in items:
        name, sep, pct = item.partition("=")
        if not sep or not name or not pct.strip().isdigit() or int(pct) > 100:
            raise UsageError(f"--traffic takes DEPLOYMENT=PERCENT with a percent 0-100, got {item!r}")
        shares[name.strip()] = int(pct)
    return shares


class _Edit:
    """The stack-file edits a promotion makes, each recorded as a one-line action."""

    def __init__(self, editor: StackEditor, actions: list[str]):
        self.ed = editor
        self.actions = actions

    def deployments(self) -> list[str]:
        return list(self.ed.get("online", "deployments") or {})

    def mapping(self, key: str) -> dict[str, int]:
        return dict(self.ed.get("online", key) or {})

    def set_share(self, key: str, name: str, pct: int | None) -> None:
        """Set (or with None remove) one deployment's traffic/mirrorTraffic share; drop an emptied mapping."""
        if pct is None:
            self.ed.delete("online", key, name)
            if not self.ed.get("online", key):
                self.ed.delete("online", key)
        else:
            self.ed.set("online", key, name, value=pct)

    def add_deployment(self, name: str, version: int, source: str | None) -> None:
        settings = _plain(self.ed.get("online", "deployments", source)) if source else {}
        settings.pop("modelVersion", None)
        self.ed.set("online", "deployments", name, value={"modelVersion": version, **settings})
        self.set_share("traffic", name, 0)
        copied = f"settings copied from {source}" if source else "default settings"
        self.actions.append(f"added deployment {name} serving version {version} ({copied}) with 0% live traffic")

    def remove_deployment(self, name: str) -> None:
        self.ed.delete("online", "deployments", name)
        self.set_share("traffic", name, None)
        if name in self.mapping("mirrorTraffic"):
            self.set_share("mirrorTraffic", name, None)
        self.actions.append(f"removed deployment {name}")


def _apply_traffic(edit: _Edit, shares: dict[str, int], candidate: str, live: str | None) -> None:
    deployments = edit.deployments()
    unknown = [n for n in shares if n not in deployments]
    if unknown:
        raise UsageError(f"--traffic names no deployment: {', '.join(unknown)} (deployments: {', '.join(deployments)})")
    total = sum(shares.values())
    if total > 100:
        raise UsageError(f"--traffic shares sum to {total}, more than 100")
    current = edit.mapping("traffic")
    rest_to = live if live and live not in shares else None
    if total < 100 and rest_to is None:
        raise UsageError(
            f"--traffic shares sum to {total} and no other live deployment can take the remaining {100 - total}; "
            "give every deployment its share so they sum to 100"
        )
    new = {n: shares.get(n, 0) for n in deployments}
    if rest_to:
        new[rest_to] = 100 - total
    for name in deployments:
        if current.get(name) != new[name]:
            edit.set_share("traffic", name, new[name])
        if new[name] > 0 and name in edit.mapping("mirrorTraffic"):
            edit.set_share("mirrorTraffic", name, None)
            edit.actions.append(f"stopped mirroring to {name}: it takes live traffic now")
    edit.actions.append("traffic: " + ", ".join(f"{n} {new[n]}%" for n in deployments))


def promote(
    stack: str,
    name: str,
    version: int,
    *,
    registry: Versions,
    stacks_dir: Path = STACKS_DIR,
    mirror: int | None = None,
    traffic: dict[str, int] | None = None,
    finish: bool = False,
    history: list[tuple[str, str]] | None = None,
    override_canary: str | None = None,
    endpoint: str | None = None,
) -> Promotion:
    """Gate the candidate, then edit `stacks_dir/Pulumi.<stack>.yaml` (validated, comments kept) and save it.

    `history`: the stack file's committed revisions, newest first (`stack_history`), read by the canary
    rule when the stack requires one; default: the git history of the repository holding stacks_dir.
    """
    if finish and (traffic or mirror is not None):
        raise UsageError("--finish moves all traffic to the candidate; use it without --traffic or --mirror")
    if override_canary is not None and not finish:
        raise UsageError("--override-canary only applies to --finish")
    if mirror is not None and not 0 <= mirror <= MAX_MIRROR:
        raise UsageError(f"--mirror must be a percent 0-{MAX_MIRROR}, got {mirror}")
    path = stack_path(stack, stacks_dir)
    whole = load_stack(stack, stacks_dir)
    key = serving_key(whole, stack, name, endpoint)
    cfg = whole.narrow(key)
    if cfg.model.online is None:
        groups = [g for g, group in whole.multi_model.items() if key in group.models]
        if groups:  # its pinned version is what the group's combined model holds: no deployment of its own to add
            raise UsageError(
                f"stack {stack}: model {key!r} ({name}) has no online endpoint of its own; multiModel group {', '.join(groups)} "
                f"serves its pinned version: set {PROJECT}:models.{key}.version to {version} (the group's combined model then "
                "gets a new version and its deployments roll over to it)"
            )
        raise UsageError(
            f"stack {stack}: model {key!r} ({name}) has no online endpoint to roll out on; its batch endpoint serves "
            f"{PROJECT}:models.{key}.version: set that to {version} (the promotion gate is for online deployments)"
        )
    gate = check_gate(registry, cfg, name, version)
    actions: list[str] = []
    if finish and cfg.promotion.require_canary:
        if history is None:
            history = stack_history(stacks_dir.parent, stack)
        actions.append(check_canary(stack, name, version, history, override_canary))
    editor = StackEditor(path).focus(None if whole.single_form else key)
    edit = _Edit(editor, actions)
    deployment = candidate_deployment(cfg, version)
    live = live_deployment(cfg, exclude={deployment} if deployment else set())
    if deployment is None:
        deployment = next_colour(set(cfg.online.deployments))
        edit.add_deployment(deployment, version, live or next(iter(cfg.online.deployments), None))
    if mirror is not None:
        if (cfg.online.traffic.get(deployment) or 0) > 0:
            raise UsageError(f"cannot mirror traffic to {deployment}: it takes live traffic ({cfg.online.traffic[deployment]}%)")
        edit.set_share("mirrorTraffic", deployment, mirror or None)
        actions.append(f"mirror traffic to {deployment}: {mirror}%")
    if traffic:
        _apply_traffic(edit, traffic, deployment, live)
    if finish:
        for other in [d for d in edit.deployments() if d != deployment]:
            edit.remove_deployment(other)
        edit.set_share("traffic", deployment, 100)
        editor.delete("online", "deployments", deployment, "modelVersion")
        editor.set("model", "version", value=version)
        actions.append(f"{deployment} takes 100% of live traffic; {editor.key('model', 'version')} is {version}")
    promotion = Promotion(stack, path, gate, deployment, before=editor.original, actions=actions)
    if editor.text() == editor.original:
        promotion.after = editor.original
        actions.append(f"nothing to change: {deployment} already serves {name}:{version} as asked")
        return promotion
    promotion.after = editor.save()
    return promotion
