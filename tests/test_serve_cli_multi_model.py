"""`amlops serve --endpoint <group>` serves an amlops:multiModel group as a user runs it: the members' registered
versions combined under score_multi.py; `amlops invoke --endpoint <group>` finds its key; each model answers through
the group exactly what the model itself predicts (the loans classifier and a Ridge regressor on scikit-learn's
diabetes data, which this test did not train for the group)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import yaml

from models_support import loans_case, ridge_case
from test_config_multi_model import group_raw

CLI = [sys.executable, "-c", "from amlops.cli import main; main()"]

pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")


@pytest.mark.slow
def test_serve_a_group_by_its_endpoint_and_invoke_each_member(state, tmp_path, monkeypatch):
    import mlflow.pyfunc
    import pandas as pd

    from amlops.registry import Registry

    raw = group_raw()
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.many.yaml").write_text(yaml.safe_dump({"config": {f"amlops:{k}": v for k, v in raw.items()}}))
    monkeypatch.setenv("AMLOPS_STACKS_DIR", str(stacks))
    cases = {"loans": loans_case(tmp_path / "loans"), "price": ridge_case(tmp_path / "price")}
    for key, case in cases.items():
        assert Registry().register(raw["models"][key]["name"], case.folder).registered.version == 1
    env = {**os.environ, "COLUMNS": "250"}
    server = subprocess.Popen([*CLI, "serve", "--stack", "many", "--endpoint", "small-dev-online", "--port", "0", "--no-logs"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = server.stdout.readline()
        assert first.startswith("serving loans-small-models (loans=chapter12-loans:1, price=price-model:1) as small-dev-online/blue at http://127.0.0.1:"), (
            first or server.stderr.read())
        for key, case in cases.items():
            own = mlflow.pyfunc.load_model(str(case.folder)).predict(pd.DataFrame(case.records))
            body = json.dumps({"model": key, "data": case.records})
            answer = subprocess.run([*CLI, "invoke", "--stack", "many", "--endpoint", "small", "--data", body],
                                    capture_output=True, text=True, timeout=120, env=env)
            assert answer.returncode == 0, answer.stderr
            got = json.loads(answer.stdout[: answer.stdout.rindex("}") + 1])
            assert got == {"predict": pytest.approx(list(own), rel=1e-12)}, key
        assert server.poll() is None
    finally:
        server.send_signal(signal.SIGTERM)  # by its PID: Popen signals only the process it started
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert out.strip().splitlines()[-1] == "stopped small-dev-online (gunicorn exit code 0)"
