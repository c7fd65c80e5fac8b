"""What every section of the stack schema shares: the project name, the base model, Azure's name rules."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from infra.naming import endpoint_name

# Azure's naming rules, per resource type, for the names a stack file sets directly.
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")  # 3-32, unique per region
DEPLOYMENT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")  # 3-32
_COMPUTE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,14}[a-zA-Z0-9]$")  # 2-16
MODEL_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$")
PREFIX = re.compile(r"^[a-z][a-z0-9]{1,7}$")  # lands inside storage/key vault/ACR names
ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SIZE = re.compile(r"^(\d+)\s*(B|KB|MB|GB)$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def parse_size(text: str) -> int:
    """`100KB` → 102400 bytes. Raises ValueError naming the accepted forms."""
    m = _SIZE.match(text.strip())
    if not m:
        raise ValueError(f"must be a size such as 100KB or 1MB (units B, KB, MB, GB), got {text!r}")
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


def name_check(pattern: re.Pattern[str], rule: str):
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{rule}, got {value!r}")
        return value

    return check


check_compute_name = name_check(
    _COMPUTE_NAME, "must be 2-16 letters, digits or hyphens, starting with a letter"
)
check_endpoint_name = name_check(
    _ENDPOINT_NAME,
    "must be 3-32 letters, digits or hyphens, starting with a letter and not ending with a hyphen",
)


def check_endpoint_base(value: str) -> str:
    """A readable endpoint base name that infra.naming.endpoint_name can suffix within Azure's 32 characters."""
    endpoint_name(value, "0" * 6)  # raises ValueError with the rule
    return value


class ConfigModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )
