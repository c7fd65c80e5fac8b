"""Known answers for the monitor's statistics: traffic drawn from the training distribution breaches
nothing; traffic with one feature shifted breaches that feature and no other."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chisquare

from amlops import data as data_mod
from amlops.modelmonitor import metrics
from amlops.modelmonitor.signals import compute, feature_kind
from infra.config.model_monitor import ModelMonitorConfig

FEATURES = list(data_mod.FEATURES)
MONITOR = {
    "trainingData": "loans-training:1",
    "targetColumn": "approved_loan",
    "dataDrift": {
        "numerical": {"metric": "jensen_shannon_distance", "threshold": 0.2},
        "categorical": {"metric": "pearsons_chi_squared_test", "threshold": 0.01},
    },
    "predictionDrift": {"categorical": {"metric": "jensen_shannon_distance", "threshold": 0.2}},
    "dataQuality": {
        "numerical": {"nullValueRate": 0.0, "outOfBoundsRate": 0.05},
        "categorical": {"nullValueRate": 0.0, "outOfBoundsRate": 0.05},
    },
}


@pytest.fixture(scope="module")
def cfg() -> ModelMonitorConfig:
    return ModelMonitorConfig.model_validate(MONITOR)


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    return data_mod.generate_loans(500, 42)


def production(seed: int, rows: int = 400) -> pd.DataFrame:
    """Loans drawn from the training distribution with another seed."""
    return data_mod.generate_loans(rows, seed)


def breaches(results) -> set[tuple[str, str, str]]:
    return {(r.signal, r.feature, r.metric) for r in results if r.breach}


def test_monitor_kinds_follow_azures_rule(cfg, training):
    # credit_cards: 7 distinct integers in 500 rows (< 5%) → categorical; age: 58 in 500 → numerical
    assert [feature_kind(c, training[c], cfg) for c in FEATURES] == ["numerical", "categorical", "numerical"]
    forced = cfg.model_copy(update={"numerical_features": ("credit_cards",)})
    assert feature_kind("credit_cards", training["credit_cards"], forced) == "numerical"


def test_monitor_training_distribution_breaches_nothing(cfg, training):
    prod = production(7)
    results = compute(cfg, training, prod[FEATURES], prod[["approved_loan"]])
    assert {(r.signal, r.feature) for r in results} >= {("data_drift", c) for c in FEATURES} | {("prediction_drift", "approved_loan")}
    assert breaches(results) == set(), [r for r in results if r.breach]


@pytest.mark.parametrize(
    ("feature", "shift", "expected"),
    [
        ("income", lambda f: f.assign(income=f.income * 2), {("data_drift", "income", "jensen_shannon_distance"), ("data_quality", "income", "out_of_bounds_rate")}),
        ("age", lambda f: f.assign(age=f.age + 25), {("data_drift", "age", "jensen_shannon_distance"), ("data_quality", "age", "out_of_bounds_rate")}),
        ("credit_cards", lambda f: f.assign(credit_cards=f.credit_cards + 4), {("data_drift", "credit_cards", "pearsons_chi_squared_test"), ("data_quality", "credit_cards", "out_of_bounds_rate")}),
    ],
)
def test_monitor_one_shifted_feature_breaches_exactly_that_feature(cfg, training, feature, shift, expected):
    prod = shift(production(7))
    assert breaches(compute(cfg, training, prod[FEATURES], None)) == expected


def test_monitor_shift_is_found_for_every_seed_and_distances_stay_low_without_one(cfg, training):
    for seed in range(1, 21):
        prod = production(seed)
        same = {(r.feature, r.metric): r for r in compute(cfg, training, prod[FEATURES], None) if r.signal == "data_drift"}
        assert same["income", "jensen_shannon_distance"].value < 0.2 and same["age", "jensen_shannon_distance"].value < 0.2, seed
        shifted = compute(cfg, training, prod.assign(income=prod.income * 2)[FEATURES], None)
        assert ("data_drift", "income", "jensen_shannon_distance") in breaches(shifted), seed
        assert {f for _, f, _ in breaches(shifted)} <= {"income", "credit_cards"}, seed  # credit_cards: a p-value, see below


def test_monitor_chi_squared_false_alarms_match_the_threshold(cfg, training):
    # A p-value test breaches a sample from the same distribution with probability = its threshold (0.01).
    alarms = sum(
        ("data_drift", "credit_cards", "pearsons_chi_squared_test") in breaches(compute(cfg, training, production(s)[FEATURES], None))
        for s in range(100, 300)
    )
    assert alarms <= 8  # expected 2 of 200; P(> 8) < 0.001


def test_metrics_match_their_definitions():
    ref = np.array([1.0, 2, 2, 3, 3, 3, 4, 4, 5, 9])
    prod = np.array([2.0, 3, 3, 4, 4, 4, 5, 6, 7, 9])
    edges = metrics.bin_edges(ref, prod)
    assert len(edges) - 1 == math.ceil(math.log2(10) + 1) and edges[0] == 1 and edges[-1] == 9
    expected = jensenshannon(np.histogram(ref, edges)[0], np.histogram(prod, edges)[0], base=2)
    assert metrics.numerical("jensen_shannon_distance", ref, prod) == pytest.approx(expected)
    assert metrics.numerical("jensen_shannon_distance", ref, ref) == pytest.approx(0.0)
    # Wasserstein: mean shift of 0.9 here... divided by the reference's sample standard deviation
    from scipy.stats import wasserstein_distance

    assert metrics.numerical("normalized_wasserstein_distance", ref, prod) == pytest.approx(wasserstein_distance(ref, prod) / np.std(ref, ddof=1))
    cats_ref, cats_prod = ["a"] * 50 + ["b"] * 50, ["a"] * 70 + ["b"] * 30
    assert metrics.categorical("pearsons_chi_squared_test", cats_ref, cats_prod) == pytest.approx(chisquare([70, 30], [50, 50]).pvalue)
    assert metrics.categorical("pearsons_chi_squared_test", cats_ref, cats_prod + ["c"]) == 0.0
    assert metrics.quality("out_of_bounds_rate", [1, 5], pd.Series([0, 1, 3, 6]), is_numerical=True) == 0.5
    assert metrics.quality("null_value_rate", [1, 5], pd.Series([None, 1, 3, 6]), is_numerical=True) == 0.25
    assert metrics.quality("out_of_bounds_rate", ["a", "b"], pd.Series(["a", "z"]), is_numerical=False) == 0.5


def test_metrics_breach_direction_is_azures():
    assert metrics.breached("jensen_shannon_distance", 0.3, 0.2) and not metrics.breached("jensen_shannon_distance", 0.1, 0.2)
    assert metrics.breached("pearsons_chi_squared_test", 0.001, 0.01) and not metrics.breached("pearsons_chi_squared_test", 0.5, 0.01)
    assert not metrics.breached("null_value_rate", float("nan"), 0.0)


def test_monitor_config_refuses_what_azure_would_not_read():
    with pytest.raises(ValueError, match="numerical.metric must be one of"):
        ModelMonitorConfig.model_validate({**MONITOR, "dataDrift": {"numerical": {"metric": "pearsons_chi_squared_test", "threshold": 0.1}}})
    with pytest.raises(ValueError, match="NAME:VERSION"):
        ModelMonitorConfig.model_validate({**MONITOR, "trainingData": "loans"})
    with pytest.raises(ValueError, match="declares no signal"):
        ModelMonitorConfig.model_validate({"trainingData": "loans-training:1"})
