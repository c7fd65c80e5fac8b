"""`amlops serve` collects model inputs and outputs the way Azure's data collector lays them out:
score.py logs through the real azureml-ai-monitoring Collector, the local agent writes
`{endpoint}/{deployment}/{collection}/{yyyy}/{MM}/{dd}/{HH}/{instance_id}.jsonl` records."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from amlops.modelmonitor import collected
from amlops.modelmonitor.run import run as monitor_run
from amlops.serving.endpoint import LocalEndpoint
from amlops.stackfile import load_stack
from infra.config.model_monitor import DataCollectorConfig, ModelMonitorConfig

RECORD_KEYS = {"specversion", "id", "source", "type", "datacontenttype", "time", "data", "correlationid", "xrequestid", "modelversion", "collectdatatype", "agent", "contentrange"}
"""The fields of a collected record (how-to-collect-production-data, "Store collected data in blob storage")."""


@pytest.fixture
def served(state, trained_model_dir):
    cfg = load_stack("dev")
    ep = LocalEndpoint(cfg, trained_model_dir, workers=1, auth=False, telemetry=False, data_collector=DataCollectorConfig(), target_column="approved_loan")
    with ep:
        yield ep


def test_serve_collects_inputs_and_outputs_in_azures_layout(served):
    rows = [{"income": 2000.0, "credit_cards": 2, "age": 45}, {"income": 9000.0, "credit_cards": 1, "age": 60}]
    with httpx.Client(timeout=30) as client:
        r1 = client.post(served.scoring_url, json={"data": rows}, headers={"x-request-id": "req-1"})
        r2 = client.post(served.scoring_url, json={"data": [[5000, 3, 30]], "method": "predict_proba"}, headers={"x-request-id": "req-2"})
        bad = client.post(served.scoring_url, json={"data": [[1, 2]]})
    assert (r1.status_code, r2.status_code, bad.status_code) == (200, 200, 400)
    assert served.collector.wait_for({"model_inputs": 2, "model_outputs": 2}, timeout=20)
    served.stop()
    folder = collected.collection_dir(served.endpoint_name, served.deployment, "model_inputs")
    files = sorted(folder.rglob("*.jsonl"))
    assert len(files) == 1
    relative = files[0].relative_to(collected.root()).as_posix()
    assert re.fullmatch(rf"{served.endpoint_name}/{served.deployment}/model_inputs/\d{{4}}/\d\d/\d\d/\d\d/{served.collector.instance_id}\.jsonl", relative), relative
    inputs = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert [set(rec) for rec in inputs] == [RECORD_KEYS, RECORD_KEYS]
    assert inputs[0]["type"] == "azureml.inference.model_inputs" and inputs[0]["collectdatatype"] in ("pandas.DataFrame", "pandas.core.frame.DataFrame")  # the package names the type
    assert inputs[0]["agent"].startswith("azureml-ai-monitoring/")
    assert inputs[0]["data"] == rows  # integers stay integers: the signature's types, as the training data has them
    assert inputs[1]["data"] == [{"income": 5000.0, "credit_cards": 3, "age": 30}]
    assert [rec["correlationid"] for rec in inputs] == ["req-1", "req-2"]
    outputs = list(collected.records(served.endpoint_name, served.deployment, "model_outputs"))
    assert [rec["correlationid"] for rec in outputs] == ["req-1", "req-2"]
    assert [rec["data"] for rec in outputs][0] == [{"approved_loan": v} for v in r1.json()["predict"]]
    assert set(outputs[1]["data"][0]) == {"approved_loan"}  # predict_proba logs the predicted class


def test_serve_samples_at_the_declared_rate(state, trained_model_dir):
    cfg = load_stack("dev")
    ep = LocalEndpoint(cfg, trained_model_dir, workers=1, auth=False, telemetry=False, data_collector=DataCollectorConfig(samplingRate=0.25, collections=("model_inputs",)))
    n = 400
    with ep, httpx.Client(timeout=30) as client:
        for _ in range(n):
            client.post(ep.scoring_url, json={"data": [[5000, 3, 30]]}).raise_for_status()
        ep.collector.wait_for({"model_inputs": 60}, timeout=20)
    logged = ep.collector.received["model_inputs"]
    assert 60 <= logged <= 140, logged  # binomial(400, 0.25): mean 100, 4.6 standard deviations either side
    assert not collected.collection_dir(ep.endpoint_name, ep.deployment, "model_outputs").exists()


def test_monitor_run_reads_collected_data_since(state, served, trained_model_dir, tmp_path):
    from amlops import data as data_mod

    with httpx.Client(timeout=30) as client:
        for row in data_mod.generate_loans(60, 5)[list(data_mod.FEATURES)].to_dict("records"):
            client.post(served.scoring_url, json={"data": [row]}).raise_for_status()
    assert served.collector.wait_for({"model_inputs": 60, "model_outputs": 60}, timeout=20)
    ref = data_mod.write_csv(data_mod.generate_loans(), tmp_path / "loans.csv")
    monitor = ModelMonitorConfig.model_validate({"trainingData": "loans-training:1", "targetColumn": "approved_loan", "dataDrift": {"numerical": {"metric": "jensen_shannon_distance", "threshold": 0.3}}})
    verdict = monitor_run(monitor, served.endpoint_name, served.deployment, ref.path, plot_dir=tmp_path)
    assert verdict.production_rows == 60 and verdict.plot is not None and verdict.plot.stat().st_size > 0
    assert {r.feature for r in verdict.results} == {"income", "age"}
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    with pytest.raises(Exception, match="no collected data"):
        monitor_run(monitor, served.endpoint_name, served.deployment, ref.path, since=future)
