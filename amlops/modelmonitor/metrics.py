"""The metrics of Azure ML model monitoring, defined as Azure's own signal components compute them
(Azure/azureml-assets, assets/model_monitoring/components/src: data_drift_compute_metrics,
data_quality_compute_metrics, shared_utilities/histogram_utils.py), with scipy doing the statistics.

The metric names are the ones a monitor's YAML takes (reference-yaml-monitor,
https://learn.microsoft.com/azure/machine-learning/reference-yaml-monitor). Two are p-values of a
statistical test (`HIGHER_IS_BETTER`): Azure breaches them when the value falls *below* the threshold;
every other metric breaches when it rises *above* it (model_monitor_evaluate_metrics_threshold).
"""

from __future__ import annotations

import math

import numpy as np

NUMERICAL_DRIFT = ("jensen_shannon_distance", "normalized_wasserstein_distance", "population_stability_index", "two_sample_kolmogorov_smirnov_test")
CATEGORICAL_DRIFT = ("jensen_shannon_distance", "pearsons_chi_squared_test", "population_stability_index")
DATA_QUALITY = ("null_value_rate", "data_type_error_rate", "out_of_bounds_rate")
HIGHER_IS_BETTER = frozenset({"two_sample_kolmogorov_smirnov_test", "pearsons_chi_squared_test"})
"""Tests whose value is a p-value: a breach is a value below the threshold."""
WASSERSTEIN_NORM_FLOOR = 0.001
"""Azure divides the Wasserstein distance by max(reference standard deviation, 0.001)."""


def breached(metric: str, value: float, threshold: float) -> bool:
    """Whether `value` breaches `threshold` the way Azure evaluates it (NaN never breaches: Azure skips it)."""
    if math.isnan(value):
        return False
    return value < threshold if metric in HIGHER_IS_BETTER else value > threshold


def bin_edges(reference: np.ndarray, production: np.ndarray) -> np.ndarray:
    """Azure's shared histogram bins: Sturges' count from the smaller sample, equal widths over both samples' range."""
    bins = math.ceil(math.log2(min(len(reference), len(production))) + 1)
    lo = float(min(reference.min(), production.min()))
    hi = float(max(reference.max(), production.max()))
    if lo == hi:  # one value: one bucket
        return np.array([lo, lo * 1.01 if lo else 1.0])
    return np.linspace(lo, hi, bins + 1)


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin; the last bin includes its right edge (as Spark's RDD.histogram and numpy do)."""
    return np.histogram(values, bins=edges)[0]


def _category_counts(reference, production) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Counts of every category seen in either sample (as strings, as Azure groups them)."""
    import pandas as pd

    ref = pd.Series(reference).astype(str).value_counts()
    prod = pd.Series(production).astype(str).value_counts()
    keys = sorted(set(ref.index) | set(prod.index))
    return keys, ref.reindex(keys, fill_value=0).to_numpy(float), prod.reindex(keys, fill_value=0).to_numpy(float)


def numerical(metric: str, reference: np.ndarray, production: np.ndarray) -> float:
    """A numerical drift metric over the non-null values of one feature."""
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import ks_2samp, wasserstein_distance

    reference, production = np.asarray(reference, float), np.asarray(production, float)
    if metric == "jensen_shannon_distance":
        edges = bin_edges(reference, production)
        return float(jensenshannon(histogram(reference, edges), histogram(production, edges), base=2))
    if metric == "normalized_wasserstein_distance":
        spread = float(np.std(reference, ddof=1)) if len(reference) > 1 else 0.0
        return float(wasserstein_distance(reference, production)) / max(spread, WASSERSTEIN_NORM_FLOOR)
    if metric == "population_stability_index":
        edges = bin_edges(reference, production)
        return _psi(histogram(reference, edges), histogram(production, edges), len(reference), len(production))
    if metric == "two_sample_kolmogorov_smirnov_test":
        return float(ks_2samp(reference, production).pvalue)
    raise ValueError(f"{metric!r} is not a numerical drift metric; use one of {', '.join(NUMERICAL_DRIFT)}")


def categorical(metric: str, reference, production) -> float:
    """A categorical drift metric over the non-null values of one feature."""
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import chisquare

    _, ref, prod = _category_counts(reference, production)
    if metric == "jensen_shannon_distance":
        return float(jensenshannon(ref, prod, base=2))
    if metric == "population_stability_index":
        return _psi(ref, prod, ref.sum(), prod.sum())
    if metric == "pearsons_chi_squared_test":
        # Pearson's test of the production counts against the reference proportions scaled to them.
        expected = ref / ref.sum() * prod.sum()
        if np.any((expected == 0) & (prod > 0)):
            return 0.0  # a category the reference never had: the statistic is infinite, its p-value 0
        keep = expected > 0
        return float(chisquare(prod[keep], expected[keep]).pvalue)
    raise ValueError(f"{metric!r} is not a categorical drift metric; use one of {', '.join(CATEGORICAL_DRIFT)}")


def _psi(ref_counts: np.ndarray, prod_counts: np.ndarray, ref_total: float, prod_total: float) -> float:
    """Population stability index with Azure's +1 per bin (so an empty bin is not infinite)."""
    p = (np.asarray(ref_counts, float) + 1) / ref_total
    q = (np.asarray(prod_counts, float) + 1) / prod_total
    return float(np.sum((q - p) * np.log(q / p)))


def quality(metric: str, reference, production, *, is_numerical: bool) -> float:
    """A data quality rate of one production column (the share of its rows that are null, mistyped or out of bounds)."""
    import pandas as pd

    prod = pd.Series(production, dtype=object)
    total = len(prod)
    if total == 0:
        return float("nan")
    if metric == "null_value_rate":
        return float(prod.isna().sum()) / total
    present = prod.dropna()
    if is_numerical:
        as_numbers = pd.to_numeric(present, errors="coerce")
        if metric == "data_type_error_rate":
            return float(as_numbers.isna().sum()) / total
        if metric == "out_of_bounds_rate":
            ref = pd.to_numeric(pd.Series(reference), errors="coerce").dropna()
            return float(((as_numbers < ref.min()) | (as_numbers > ref.max())).sum()) / total
    else:
        if metric == "data_type_error_rate":
            return 0.0  # every value reads as a category
        if metric == "out_of_bounds_rate":
            known = set(pd.Series(reference).dropna().astype(str))
            return float((~present.astype(str).isin(known)).sum()) / total
    raise ValueError(f"{metric!r} is not a data quality metric; use one of {', '.join(DATA_QUALITY)}")
