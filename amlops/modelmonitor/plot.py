"""The monitor's picture: each monitored feature's reference and production distributions side by side."""

from __future__ import annotations

from pathlib import Path

from amlops.modelmonitor.signals import Result


def distributions(results: list[Result], reference, inputs, outputs, target: str, path: Path) -> Path:
    """One panel per drift-checked feature (histograms for numbers, bar pairs for categories), titled with its verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from amlops.modelmonitor.metrics import bin_edges

    drift = [r for r in results if r.signal in ("data_drift", "prediction_drift")]
    panels = drift or [r for r in results]
    seen: list[Result] = []
    for r in panels:
        if all(r.feature != s.feature for s in seen):
            seen.append(r)
    fig, axes = plt.subplots(1, max(len(seen), 1), figsize=(4.2 * max(len(seen), 1), 3.4), squeeze=False)
    for ax, r in zip(axes[0], seen):
        prod_frame = outputs if r.signal == "prediction_drift" else inputs
        ref = reference[r.feature].dropna()
        prod = prod_frame[r.feature].dropna()
        if r.kind == "numerical":
            edges = bin_edges(ref.to_numpy(float), prod.to_numpy(float))
            ax.hist([ref, prod], bins=edges, density=True, label=["training", "production"], color=["#4878a8", "#e07b39"])
        else:
            keys = sorted(set(ref.astype(str)) | set(prod.astype(str)), key=lambda k: (len(k), k))
            share = lambda s: s.astype(str).value_counts(normalize=True).reindex(keys, fill_value=0)  # noqa: E731
            x = np.arange(len(keys))
            ax.bar(x - 0.2, share(ref), 0.4, label="training", color="#4878a8")
            ax.bar(x + 0.2, share(prod), 0.4, label="production", color="#e07b39")
            ax.set_xticks(x, keys)
        mark = "BREACH" if r.breach else "ok"
        ax.set_title(f"{r.feature}: {r.metric} {r.value:.3g} ({mark}, threshold {r.threshold:g})", fontsize=8, color="red" if r.breach else "black")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
