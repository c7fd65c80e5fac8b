"""`amlops:models`: the models a stack serves, each with its pinned version and its own endpoints.

A stack declares any number of models by a short key. Each entry is a registered model
(name, pinned version, optional Azure ML registry) with an online endpoint, a batch endpoint,
or both; the workspace, network, compute and monitoring stay shared by all of them. The key
goes into every Pulumi resource name of the model (`<key>-online`, `<key>-model`, …), so one
model's change touches only its own resources.

A stack written before many models (top-level `model`, `online`, `batch`) is read as one entry
under LEGACY_KEY; its problems are still reported at the keys the file holds.
"""

from __future__ import annotations

import re

from infra.config.base import name_check
from infra.config.batch import BatchConfig
from infra.config.model import ModelPin
from infra.config.model_monitor import ModelMonitorConfig
from infra.config.online import OnlineConfig

MODEL_KEY = re.compile(r"^[a-z][a-z0-9]{0,11}$")
"""A model's key: 1-12 lowercase letters or digits, starting with a letter. It goes into Pulumi names and
Azure asset names (`<prefix>-<key>-scoring`, 8 + 1 + 12 + 8 characters at most, within every asset rule)."""
LEGACY_KEY = "main"
"""The key of the one model a stack in the single-model form (top-level model/online/batch) declares."""
LEGACY_SECTIONS = ("model", "online", "batch")
"""The top-level keys of the single-model form (all three required)."""
LEGACY_OPTIONAL = ("monitor",)
"""The single-model form's optional top-level keys: its model's monitor."""
check_model_key = name_check(MODEL_KEY, "model keys must be 1-12 lowercase letters or digits, starting with a letter")


class ModelConfig(ModelPin):
    """One model the stack serves: the registered model and version, and its online and/or batch endpoint
    (or neither, when an amlops:multiModel group serves it; infra/config/rules.py checks that one does)."""

    online: OnlineConfig | None = None
    """Its online endpoint (deployments, traffic, mirror, autoscale, alerts, auth); default none."""
    batch: BatchConfig | None = None
    """Its batch endpoint (mode, id columns, output, schedule); default none."""
    monitor: ModelMonitorConfig | None = None
    """Its model monitor (a CreateMonitor schedule over an online deployment's collected data); default none."""

    def deployment_model_version(self, deployment: str) -> int:
        """The model version an online deployment serves: its own pin, else the model's."""
        assert self.online is not None
        return self.online.deployments[deployment].model_version or self.version

    def monitored_deployment(self) -> str | None:
        """The online deployment its monitor reads (monitored_deployment's rule)."""
        return monitored_deployment(self.monitor, self.online)

    def versions(self) -> list[int]:
        """Every version its deployments serve (the pinned one always: the batch deployment's)."""
        pinned = {self.version} | {self.deployment_model_version(d) for d in (self.online.deployments if self.online else {})}
        return sorted(pinned)

    def endpoint_names(self) -> list[str]:
        """The readable base names of its endpoints (online first)."""
        return [e.endpoint_name for e in (self.online, self.batch) if e is not None]


def monitored_deployment(monitor: ModelMonitorConfig | None, online: OnlineConfig | None) -> str | None:
    """The online deployment a monitor reads: monitor.deployment, else the live one, else the first declared."""
    if monitor is None or online is None:
        return None
    return monitor.deployment or online.live_deployment() or next(iter(online.deployments), None)


def check_models(models: dict) -> dict:
    """At least one model, every key Azure-safe (checked before the entries, so a bad entry hides no bad key)."""
    if not models:
        raise ValueError("must declare at least one model")
    for key in models:
        check_model_key(key)
    return models


def normalise_legacy(raw: dict) -> tuple[dict, bool]:
    """A stack in the single-model form as one `models` entry (the file is not changed); (raw, whether it was)."""
    legacy = [k for k in (*LEGACY_SECTIONS, *LEGACY_OPTIONAL) if k in raw]
    if not legacy:
        return raw, False
    if "models" in raw:
        return raw, False  # both forms: the parser refuses the mix, naming the keys
    entry = dict(raw.get("model") or {}) if isinstance(raw.get("model", {}), dict) else raw["model"]
    if isinstance(entry, dict):
        for section in ("online", "batch", *LEGACY_OPTIONAL):
            if section in raw:
                entry[section] = raw[section]
    out = {k: v for k, v in raw.items() if k not in (*LEGACY_SECTIONS, *LEGACY_OPTIONAL)}
    out["models"] = {LEGACY_KEY: entry}
    return out, True


def legacy_path(path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """A problem's path in a normalised single-model stack → the key the file holds."""
    if path[:2] != ("models", LEGACY_KEY):
        return path
    rest = path[2:]
    if rest and rest[0] in ("online", "batch", *LEGACY_OPTIONAL):
        return rest
    return ("model", *rest)

