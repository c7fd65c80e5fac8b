"""The monitor's settings in a stack: a model's `monitor` (top-level `amlops:monitor` in the single-model form) and a
deployment's `dataCollector`, with the rule across them: the monitored deployment collects what the signals read."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "stacks/Pulumi.dev.yaml"


def dev_raw() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in doc.items()}


def as_models(raw: dict[str, Any], key: str = "loans") -> dict[str, Any]:
    """dev in the `models:` form: its one model (with its monitor) under `key`."""
    raw = copy.deepcopy(raw)
    entry = {**raw.pop("model"), "online": raw.pop("online"), "batch": raw.pop("batch"), "monitor": raw.pop("monitor")}
    return {**raw, "models": {key: entry}}


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, SOURCE)
    return [f"{p.key()}: {p.message}" for p in caught.value.problems]


def test_monitor_config_single_model_form_and_models_form_read_the_same():
    single = parse_config(dev_raw(), SOURCE)
    many = parse_config(as_models(dev_raw()), SOURCE)
    assert single.single_form and not many.single_form
    assert single.model.monitor == many.models["loans"].monitor
    assert single.model.monitor.training_data == "loans-training:1" and single.model.monitor.reads() == ("model_inputs", "model_outputs")
    assert single.online.deployments["blue"].data_collector.collections == ("model_inputs", "model_outputs")


@pytest.mark.parametrize("form", ["single", "models"])
def test_monitor_config_needs_the_collections_its_signals_read(form):
    raw = dev_raw()
    raw["online"]["deployments"]["blue"]["dataCollector"]["collections"] = ["model_inputs"]
    where = "amlops:online" if form == "single" else "amlops:models.loans.online"
    assert problems(raw if form == "single" else as_models(raw)) == [
        f"{where}.deployments.blue.dataCollector.collections: must include model_outputs, which the monitor's signals read, got ['model_inputs']"
    ]
    del raw["online"]["deployments"]["blue"]["dataCollector"]
    assert problems(raw if form == "single" else as_models(raw)) == [
        f"{where}.deployments.blue.dataCollector: is required: the monitor reads this deployment's model_inputs and model_outputs "
        "(collections: [model_inputs, model_outputs])"
    ]


def test_monitor_config_refuses_an_unknown_deployment_a_missing_email_and_a_hand_set_target_column():
    raw = as_models(dev_raw())
    raw["models"]["loans"]["monitor"]["deployment"] = "green"
    raw["monitoring"].pop("actionGroupEmail")
    raw["models"]["loans"]["online"]["deployments"]["blue"]["environmentVariables"] = {"AMLOPS_TARGET_COLUMN": "y"}
    assert sorted(problems(raw)) == [
        "amlops:models.loans.monitor.deployment: names no deployment (deployments: blue), got 'green'",
        "amlops:monitoring.actionGroupEmail: is required when a model declares a monitor (Azure ML monitors alert by e-mail)",
    ]
    raw["models"]["loans"]["monitor"].pop("deployment")
    assert "amlops:models.loans.online.deployments.blue.environmentVariables.AMLOPS_TARGET_COLUMN: is set from monitor.targetColumn " \
        "(the training data's label column); remove it" in problems(raw)


def test_monitor_config_without_an_online_endpoint_is_refused():
    raw = as_models(dev_raw())
    raw["models"]["loans"].pop("online")
    assert problems(raw) == ["amlops:models.loans.monitor: needs the model's online endpoint: a monitor reads an online deployment's collected data"]


def test_monitor_config_field_problems_land_at_the_files_keys():
    raw = dev_raw()
    raw["monitor"]["dataDrift"]["numerical"]["metric"] = "pearsons_chi_squared_test"
    raw["online"]["deployments"]["blue"]["dataCollector"]["samplingRate"] = 2
    got = problems(raw)
    assert any(p.startswith("amlops:monitor.dataDrift: numerical.metric must be one of jensen_shannon_distance") for p in got), got
    assert any(p.startswith("amlops:online.deployments.blue.dataCollector.samplingRate: Input should be less than or equal to 1") for p in got), got
    mixed = {**as_models(dev_raw()), "monitor": dev_raw()["monitor"]}
    assert problems(mixed) == ["amlops:monitor: belongs to the single-model form; with amlops:models, move amlops:monitor into a model entry"]
