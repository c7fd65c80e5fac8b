"""`amlops serve` of a newly registered model that scores on OpenMP threads answers its first request.

Regression test for bd9861b: building a new model's scoring package generates its specs by scoring the
model. Done in gunicorn's master, a brute-force KNeighborsClassifier over 50,000 rows (scikit-learn's
pairwise-distance reduction runs on an OpenMP thread pool) left that pool's state in the master; the
workers forked from it hung at their first predict — score.py's init() scores a probe row, so
`amlops serve` never became ready. The build now runs in a child process of the master
(amlops.serving.preload.start_build). A deadlock never answers, so the timeouts here (serve's
readiness wait, the request's ANSWER_TIMEOUT_S) are the behaviour checked, not a speed bound.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest

from amlops.serving.keys import keys_path, read_keys
from models_support import save_mlflow

CLI = [sys.executable, "-c", "from amlops.cli import main; main()"]
ANSWER_TIMEOUT_S = 60
"""A deadlocked worker never answers; a working one answers in a few seconds even on a loaded machine."""

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:X does not have valid feature names")]


def knn_frame(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Loans-shaped rows (the dev stack's model columns) and a label that depends on all three."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "income": rng.uniform(1000.0, 10000.0, rows),
        "credit_cards": rng.integers(0, 6, rows),
        "age": rng.integers(18, 80, rows),
    })
    label = ((frame["income"] / 1000.0 - frame["credit_cards"] + frame["age"] / 20.0) > 7.0).astype(int).to_numpy()
    return frame, label


@pytest.mark.skipif(os.environ.get("OMP_NUM_THREADS") == "1", reason="a single OpenMP thread has no pool to deadlock on")
def test_serve_new_openmp_model_answers_its_first_request(state, tmp_path):
    from sklearn.neighbors import KNeighborsClassifier

    from amlops.registry import Registry

    frame, label = knn_frame(50_000, seed=7)
    model = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(frame, label)
    folder = save_mlflow(model, frame, tmp_path / "knn")
    assert Registry().register("chapter12-loans", folder).registered.version == 1  # never served: serve builds its package
    sample, _ = knn_frame(4, seed=11)
    records = [[float(r.income), int(r.credit_cards), int(r.age)] for r in sample.itertuples()]
    expected = [int(p) for p in model.predict(sample)]

    env = {**os.environ, "COLUMNS": "250"}
    server = subprocess.Popen([*CLI, "serve", "--stack", "dev", "--port", "0", "--no-logs"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = server.stdout.readline()
        assert first.startswith("serving chapter12-loans:1 as loans-dev-online/blue at http://127.0.0.1:"), first or server.stderr.read()
        url = urlsplit(first.split(" at ", 1)[1].split()[0])
        key = read_keys(keys_path("loans-dev-online")).primary
        conn = http.client.HTTPConnection("127.0.0.1", url.port, timeout=ANSWER_TIMEOUT_S)
        try:
            conn.request("POST", "/score", body=json.dumps({"data": records}),
                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
            resp = conn.getresponse()  # raises TimeoutError if the worker never answers
            status, body = resp.status, json.loads(resp.read())
        finally:
            conn.close()
        assert (status, body) == (200, {"predict": expected})
    finally:
        server.send_signal(signal.SIGTERM)  # by its PID: Popen signals only the process it started
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert out.strip().splitlines()[-1] == "stopped loans-dev-online (gunicorn exit code 0)"
