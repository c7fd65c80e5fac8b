"""Every served spec against an outside OpenAPI fuzzer: schemathesis, all checks, positive and negative
data, against `amlops serve`'s real server on 127.0.0.1, for every served kind of model (the loans
LogisticRegression, a random forest, a ColumnTransformer pipeline with string columns, a Ridge regressor
whose sums overflow on extreme inputs, a multiclass classifier with string labels).

No schema-valid request may be rejected, no schema-violating request accepted, no 5xx, every
response as documented (strict JSON: schemathesis parses bodies as RFC 8259 JSON, without NaN/Infinity). Bounded: a fixed number of examples per operation and a fixed seed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from amlops.paths import STATE_ENV
from amlops.serving.endpoint import LocalEndpoint
from amlops.stackfile import load_stack
from models_support import SERVED_CASES

pytestmark = pytest.mark.slow

EXAMPLES = 120
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
SPECS = {"2": "swagger.json", "3": "swagger3.json", "3.1": "swagger3.1.json"}


@pytest.fixture(scope="module", params=sorted(SERVED_CASES))
def served(request, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv(STATE_ENV, str(tmp_path_factory.mktemp("st-state")))
    case = SERVED_CASES[request.param](tmp_path_factory.mktemp(request.param))
    ep = LocalEndpoint(load_stack("dev"), case.folder, model_ref=f"{case.name}:1", workers=2)
    ep.start()
    yield case, ep
    ep.stop()
    mp.undo()


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    """A multiModel group (the loans classifier and the Ridge regressor) served by score_multi.py."""
    from infra.config import parse_config
    from infra.multi_model import combine
    from test_config_multi_model import group_raw

    mp = pytest.MonkeyPatch()
    mp.setenv(STATE_ENV, str(tmp_path_factory.mktemp("st-group-state")))
    folder = combine({key: SERVED_CASES[case](tmp_path_factory.mktemp(key)).folder for key, case in (("loans", "loans"), ("price", "ridge"))})
    cfg = parse_config(group_raw(), "many.yaml")
    ep = LocalEndpoint(cfg, folder, online=cfg.multi_model["small"].online, entry_script="score_multi.py", model_ref="small", workers=2)
    ep.start()
    yield None, ep
    ep.stop()
    mp.undo()


@pytest.mark.parametrize("version", sorted(SPECS))
def test_served_spec_passes_schemathesis_all_checks(served, version, tmp_path):
    _passes_schemathesis(served[1], version, tmp_path)


@pytest.mark.parametrize("version", ["3", "3.1"])
def test_a_group_spec_passes_schemathesis_all_checks(group, version, tmp_path):
    """OpenAPI 3.x states each member's body exactly (oneOf over bodies with a fixed model); Swagger 2.0 cannot (README)."""
    _passes_schemathesis(group[1], version, tmp_path)


def _passes_schemathesis(ep, version, tmp_path):
    answer = httpx.get(ep.swagger_url, params={"version": version}, headers=ep.headers, timeout=30)
    assert answer.status_code == 200, answer.text
    spec = answer.json()
    assert spec == json.loads((ep.app_root / SPECS[version]).read_text())  # served as packaged
    spec_file = tmp_path / SPECS[version]
    spec_file.write_text(json.dumps(spec))
    run = subprocess.run(
        [
            str(SCHEMATHESIS), "run", str(spec_file), "--url", ep.url, "--checks", "all", "--mode", "all",
            "--max-examples", str(EXAMPLES), "--seed", "13", "--continue-on-failure", "--no-color",
            "--header", f"Authorization: Bearer {ep.key}", "--generation-database", "none",
        ],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,  # its .schemathesis/ cache stays out of the repo
    )
    report = run.stdout[-8000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    assert "No issues found" in report, report
    tested = re.search(r"Tested: (\d+)", report)
    assert tested is not None and int(tested.group(1)) == len(spec["paths"]), report
    generated = re.search(r"(\d+) generated, (\d+) passed", report)
    assert generated is not None and int(generated.group(1)) == int(generated.group(2)) >= EXAMPLES, report
