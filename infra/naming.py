"""Azure names derived from project, stack and prefix, valid under each resource type's rules.

Storage accounts, key vaults and container registries need globally unique names, and
soft-deleted key vaults, Log Analytics and ML workspaces block a name for weeks: every
name carries a short suffix that is stable for one (project, stack, prefix, subscription)
and differs between stacks. The subscription is in it because the stack files are shared:
two subscriptions deploying the same stack file must not race for the same storage
account, key vault and registry names. Change `amlops:prefix` to move a stack to fresh names.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

SUFFIX_LENGTH = 6
ENDPOINT_NAME_MAX = 32
"""Online and batch endpoint names: 3-32 letters, digits and hyphens, starting with a letter and
ending with a letter or digit, unique within the Azure region (azure-ai-ml's
`validate_endpoint_or_deployment_name`; the endpoint-name row of
https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas#azure-machine-learning-online-endpoints-and-batch-endpoints)."""
ENDPOINT_BASE_MAX = ENDPOINT_NAME_MAX - SUFFIX_LENGTH - 1
"""The longest readable base name a stack file may set: the `-<suffix>` takes the rest."""
_ENDPOINT_CHARS = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")  # azure-ai-ml's NAME_REGEX_PATTERN


def is_endpoint_name(name: str) -> bool:
    """Whether Azure accepts `name` for an online or batch endpoint (or a deployment): 3-32, the characters above."""
    return 3 <= len(name) <= ENDPOINT_NAME_MAX and bool(_ENDPOINT_CHARS.match(name))


def stack_suffix(project: str, stack: str, prefix: str, scope: str = "") -> str:
    """Six hex digits, the same on every run for the same project, stack, prefix and scope (subscription id)."""
    key = f"{project}/{stack}/{prefix}" + (f"/{scope.lower()}" if scope else "")
    return hashlib.sha256(key.encode()).hexdigest()[:SUFFIX_LENGTH]


def _alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _hyphenated(text: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")


def _fit(head: str, suffix: str, limit: int, sep: str = "") -> str:
    """Cut `head` so that head + sep + suffix fits `limit`; the suffix always survives."""
    room = limit - len(suffix) - len(sep)
    return head[:room].rstrip("-") + sep + suffix


def endpoint_name(base: str, suffix: str) -> str:
    """`loans-prod-online` + `1a2b3c` → `loans-prod-online-1a2b3c`: the Azure name of an online or batch endpoint.

    Endpoint names are unique per region (they are the scoring host name), so two subscriptions
    deploying the same stack file must not race for them: the stack suffix goes on. Raises
    ValueError when `base` is not 2-25 letters, digits or hyphens starting with a letter (the
    suffix takes the other 7 of Azure's 32 characters); nothing is ever cut silently.
    """
    if not 2 <= len(base) <= ENDPOINT_BASE_MAX or not _ENDPOINT_CHARS.match(base):
        raise ValueError(
            f"must be 2-{ENDPOINT_BASE_MAX} letters, digits or hyphens, starting with a letter and not ending with a hyphen "
            f"(the stack suffix '-{'x' * SUFFIX_LENGTH}' takes the rest of Azure's {ENDPOINT_NAME_MAX}), got {base!r}"
        )
    return f"{base}-{suffix}"


@dataclass(frozen=True)
class ResourceNames:
    """The Azure names of one stack's workspace resources."""

    resource_group: str
    storage_account: str
    assets_container: str
    assets_datastore: str
    key_vault: str
    container_registry: str
    log_analytics: str
    app_insights: str
    workspace: str
    action_group: str
    action_group_short: str
    virtual_network: str
    private_endpoint_prefix: str
    suffix: str
    """The stack suffix itself (endpoint_name() appends it to the endpoints' readable base names)."""


def derive_names(project: str, stack: str, prefix: str, scope: str = "") -> ResourceNames:
    """Every derived name; each respects its type's length and character rules. `scope`: the subscription id."""
    suffix = stack_suffix(project, stack, prefix, scope)
    base = _hyphenated(f"{prefix}-{stack}")
    flat = _alnum(f"{prefix}{stack}")
    return ResourceNames(
        resource_group=_fit(f"rg-{base}", suffix, 90, "-"),  # 1-90
        storage_account=_fit(f"st{flat}", suffix, 24),  # 3-24 lowercase letters and digits
        assets_container="amlops-assets",  # 3-63 lowercase, digits, hyphens
        assets_datastore="amlops_assets",  # lowercase letters, digits and underscores, like workspaceblobstore
        key_vault=_fit(f"kv-{base}", suffix, 24, "-"),  # 3-24 letters, digits, single hyphens
        container_registry=_fit(f"cr{flat}", suffix, 50),  # 5-50 letters and digits
        log_analytics=_fit(f"log-{base}", suffix, 63, "-"),  # 4-63
        app_insights=_fit(f"appi-{base}", suffix, 255, "-"),  # 1-255
        workspace=_fit(f"mlw-{base}", suffix, 33, "-"),  # 3-33, letters, digits, - and _
        action_group=_fit(f"ag-{base}", suffix, 260, "-"),
        action_group_short=_alnum(f"{prefix}{stack}")[:12],  # at most 12 characters
        virtual_network=_fit(f"vnet-{base}", suffix, 64, "-"),  # 2-64 letters, digits, '_', '.', '-'
        private_endpoint_prefix=_fit(f"pe-{base}", suffix, 54, "-"),  # + "-<target>" (at most 10): 2-64
        suffix=suffix,
    )


MODEL_COMPONENTS: tuple[str, ...] = ("model", "models", "scoring-code", "online", "batch", "batch-schedule")
"""The top-level components the program declares for each model, named `<key>-<role>` (plain `<role>` in a
single-model stack file), and for each amlops:multiModel group (`<key>-models`, its combined model asset, and the
same scoring-code and online roles); every resource under one of them belongs to that model or group. `amlops plan|diff|check`
group what they show by these names (amlops/plan/groups.py)."""
MONITORING_COMPONENT = "monitoring"
"""The shared alerting component: its action group is shared; each endpoint's alert rules are named
`monitoring-<key>-<alert>` (plain `monitoring-<alert>` in a single-model stack file)."""
