"""The batch settings one local job runs with: the stack's BatchConfig, with Azure's meanings, plus local overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from amlops.errors import UsageError
from amlops.paths import BATCH_DIR
from infra.config import BatchConfig, parse_size

Mode = Literal["tabular", "files"]
DEFAULT_SCRIPTS: dict[str, Path] = {"tabular": BATCH_DIR / "tabular_batch.py", "files": BATCH_DIR / "file_batch.py"}
"""The entry script each mode runs unless `--script` names another."""


@dataclass(frozen=True)
class BatchSettings:
    """Everything the runner honours, in Azure's terms (see infra/config.py BatchConfig)."""

    mode: Mode = "tabular"
    mini_batch_size: int = 1024 * 1024
    """Bytes of input per mini-batch (tabular) or files per mini-batch (files)."""
    max_concurrency_per_instance: int = 2
    """Worker processes, each calling init() once."""
    instance_count: int = 1
    """Nodes in Azure; locally one machine is one instance (recorded in the summary, not multiplied)."""
    error_threshold: int = -1
    """Failed items tolerated; -1 ignores all."""
    mini_batch_error_threshold: int = -1
    """Failed mini-batches tolerated; -1 ignores all."""
    max_retries: int = 3
    """Tries after the first for a mini-batch whose run() raised, timed out or whose worker died."""
    timeout: float = 30.0
    """Seconds one mini-batch (read, run(), format) may take before its worker is killed."""
    output_action: Literal["append_row", "summary_only"] = "append_row"
    output_file_name: str = "predictions.csv"
    logging_level: str = "INFO"
    environment_variables: dict[str, str] = field(default_factory=dict)

    @property
    def workers(self) -> int:
        """Worker processes started locally: one instance's worth (instance_count nodes would overload one machine)."""
        return self.max_concurrency_per_instance

    def replace(self, **changes) -> "BatchSettings":
        return dataclasses.replace(self, **changes)


def from_config(cfg: BatchConfig, mode: Mode | None = None, size: str | None = None) -> BatchSettings:
    """The settings a stack declares; `mode` and `size` (Azure's miniBatchSize text) override the stack's."""
    mode = mode or cfg.mode
    if size is None and mode != cfg.mode:
        unit = "a file count such as 10" if mode == "files" else "a size such as 1MB"
        raise UsageError(
            f"the stack's miniBatchSize {cfg.mini_batch_size!r} is for {cfg.mode} mode; "
            f"with --mode {mode} pass --mini-batch-size ({unit})"
        )
    return BatchSettings(
        mode=mode,
        mini_batch_size=mini_batch_size(size or cfg.mini_batch_size, mode),
        max_concurrency_per_instance=cfg.max_concurrency_per_instance,
        instance_count=cfg.instance_count,
        error_threshold=cfg.error_threshold,
        mini_batch_error_threshold=cfg.mini_batch_error_threshold,
        max_retries=cfg.retry_settings.max_retries,
        timeout=float(cfg.retry_settings.timeout),
        output_action=cfg.output_action,
        output_file_name=cfg.output_file_name,
        logging_level=cfg.logging_level,
        environment_variables=dict(cfg.environment_variables),
    )


def mini_batch_size(text: str, mode: Mode) -> int:
    """Azure's miniBatchSize for `mode`: bytes such as 1MB (tabular) or a file count (files)."""
    if mode == "files":
        if not text.strip().isdigit() or int(text) < 1:
            raise UsageError(
                f"mini-batch size {text!r} is not a file count; files mode needs a whole number of files "
                "such as 10 (set amlops:batch.miniBatchSize or pass --mini-batch-size)"
            )
        return int(text)
    try:
        size = parse_size(text)
    except ValueError as exc:
        raise UsageError(f"mini-batch size {exc} (tabular mode)") from None
    if size < 1024:
        raise UsageError(f"mini-batch size must be at least 1KB in tabular mode, got {text!r}")
    return size
