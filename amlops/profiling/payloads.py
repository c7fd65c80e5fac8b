"""The request bodies a profile sends: one per loans row (the book's 500), the model's own input example,
or a file of JSON payloads."""

from __future__ import annotations

import json
from pathlib import Path

from amlops.data import FEATURES, generate_loans
from amlops.errors import DataError


def _encode(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def loans_payloads() -> list[bytes]:
    """One `{"data": [[income, credit_cards, age]]}` body per row of the book's 500 loans."""
    frame = generate_loans()
    rows = frame[list(FEATURES)].itertuples(index=False, name=None)
    return [_encode({"data": [[float(income), int(cards), int(age)]]}) for income, cards, age in rows]


def default_payloads(cfg, deployment: str, local: bool) -> tuple[list[bytes], str]:
    """(bodies, where they come from) when no --requests file is given: the book's 500 loans for a model whose
    input columns are the loans features (or an endpoint at --url, whose model is not on this machine), else one
    body per row of the served model's saved input example (MLflow's input_example.json, split orient)."""
    if not local:
        return loans_payloads(), "loans dataset (500 rows, one per request)"
    from amlops.modelfile import columns
    from amlops.registry import Registry

    version = cfg.deployment_model_version(deployment)
    model_dir = Registry(cfg.registry.tracking_uri).download(cfg.model.name, version)
    if tuple(c.name for c in columns(model_dir)) == FEATURES:
        return loans_payloads(), "loans dataset (500 rows, one per request)"
    path = model_dir / "input_example.json"
    try:
        rows = json.loads(path.read_text())["data"]
    except (OSError, ValueError, KeyError, TypeError):
        raise DataError(
            f"{cfg.model.name}:{version} has no input example ({path}) and its columns are not the loans features; "
            "pass --requests FILE (JSON Lines of request bodies)"
        ) from None
    return [_encode({"data": [row]}) for row in rows], f"{cfg.model.name}:{version}'s input example ({len(rows)} rows, one per request)"


def _check_object(value: object, path: Path, where: str) -> bytes:
    if not isinstance(value, dict):
        raise DataError(
            f"{path}: {where}: expected a JSON object such as "
            f'{{"data": [[5000.0, 2, 40]]}}, got {type(value).__name__} {json.dumps(value)[:60]}'
        )
    return _encode(value)


def read_payloads(path: Path) -> list[bytes]:
    """Bodies from a JSON array of objects or from JSON Lines (one object a line; blank lines skipped).

    Raises DataError naming the file and the line (and column) of the first bad payload.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such requests file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the requests file: {exc}") from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}") from None
        bodies = [_check_object(item, path, f"item {i}") for i, item in enumerate(items, start=1)]
    else:
        bodies = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {lineno}, column {exc.colno}: not valid JSON: {exc.msg}") from None
            bodies.append(_check_object(value, path, f"line {lineno}"))
    if not bodies:
        raise DataError(f"{path}: holds no payloads (expected JSON Lines or a JSON array of objects)")
    return bodies
