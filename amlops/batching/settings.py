"""The batch settings one local job runs with: the stack's BatchConfig, with Azure's meanings, plus local overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from amlops.errors import UsageError
from amlops.paths import BATCH_DIR
from infra.config import ID_COLUMNS_ENV, BatchConfig

Mode = Literal["tabular", "files"]
DEFAULT_SCRIPTS: dict[str, Path] = {"tabular": BATCH_DIR / "tabular_batch.py", "files": BATCH_DIR / "file_batch.py"}
"""The entry script each mode runs unless `--script` names another."""


@dataclass(frozen=True)
class BatchSettings:
    """Everything the runner honours, in Azure's terms for a batch model deployment (see infra/config/batch.py BatchConfig)."""

    mode: Mode = "tabular"
    mini_batch_size: int = 10
    """Files per mini-batch."""
    max_concurrency_per_instance: int = 2
    """Worker processes, each calling init() once."""
    instance_count: int = 1
    """Nodes in Azure; locally one machine is one instance (recorded in the summary, not multiplied)."""
    error_threshold: int = -1
    """Failed files tolerated; -1 ignores all."""
    max_retries: int = 3
    """Tries after the first for a mini-batch whose run() raised, timed out or whose worker died."""
    timeout: float = 30.0
    """Seconds one run() call may take before its worker is killed."""
    output_action: Literal["append_row", "summary_only"] = "append_row"
    output_file_name: str = "predictions.csv"
    logging_level: str = "INFO"
    environment_variables: dict[str, str] = field(default_factory=dict)
    """The deployment's environment variables (the stack's, plus the id columns the scripts read)."""

    @property
    def id_columns(self) -> tuple[str, ...]:
        """The input columns carried into the output: what the environment tells the scripts (one source)."""
        raw = self.environment_variables.get(ID_COLUMNS_ENV, "")
        return tuple(c.strip() for c in raw.split(",") if c.strip())

    @property
    def workers(self) -> int:
        """Worker processes started locally: one instance's worth (instance_count nodes would overload one machine)."""
        return self.max_concurrency_per_instance

    def replace(self, **changes) -> "BatchSettings":
        return dataclasses.replace(self, **changes)


def from_config(cfg: BatchConfig, mode: Mode | None = None, size: int | None = None) -> BatchSettings:
    """The settings a stack declares; `mode` and `size` (files per mini-batch) override the stack's."""
    mode = mode or cfg.mode
    if mode == "tabular" and cfg.output_action != "append_row":
        raise UsageError(
            f"--mode tabular returns predictions from run(), which only append_row writes; the stack's outputAction is "
            f"{cfg.output_action} (use --mode files, which writes one output file per input)"
        )
    if size is not None and size < 1:
        raise UsageError(f"--mini-batch-size counts files per mini-batch: a whole number ≥ 1, got {size}")
    return BatchSettings(
        mode=mode,
        mini_batch_size=size or cfg.mini_batch_size,
        max_concurrency_per_instance=cfg.max_concurrency_per_instance,
        instance_count=cfg.instance_count,
        error_threshold=cfg.error_threshold,
        max_retries=cfg.retry_settings.max_retries,
        timeout=float(cfg.retry_settings.timeout),
        output_action=cfg.output_action,
        output_file_name=cfg.output_file_name,
        logging_level=cfg.logging_level,
        environment_variables=cfg.deployment_environment(),
    )
