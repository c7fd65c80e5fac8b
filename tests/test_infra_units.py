"""The pure parts of the program: content hashes, derived names, ISO durations, component arg checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.config import AutoscaleConfig, ComputeConfig
from infra.content import content_hash, folder_files, text_hash
from infra.durations import iso_minutes, iso_ms, iso_seconds
from infra.errors import ArtifactMissing, InvalidArgs
from infra.naming import derive_names, endpoint_name, is_endpoint_name, stack_suffix


def make(folder: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def test_content_hash_ignores_caches_and_dotfiles(tmp_path):
    clean = make(tmp_path / "a", {"score.py": b"x = 1\n", "env/conda.yaml": b"name: e\n"})
    dirty = make(tmp_path / "b", {
        "score.py": b"x = 1\n", "env/conda.yaml": b"name: e\n",
        "__pycache__/score.cpython-311.pyc": b"\0", "old.pyc": b"\0", ".DS_Store": b"?", ".cache/x": b"y",
    })
    assert folder_files(dirty) == ["env/conda.yaml", "score.py"]
    assert content_hash(dirty) == content_hash(clean)
    assert re.fullmatch(r"[0-9a-f]{12}", content_hash(clean))


def test_content_hash_changes_with_one_byte_or_a_rename(tmp_path):
    base = content_hash(make(tmp_path / "a", {"score.py": b"x = 1\n"}))
    assert content_hash(make(tmp_path / "b", {"score.py": b"x = 2\n"})) != base
    assert content_hash(make(tmp_path / "c", {"score2.py": b"x = 1\n"})) != base
    # path/content boundaries are length-prefixed
    assert content_hash(make(tmp_path / "d", {"ab": b"c"})) != content_hash(make(tmp_path / "e", {"a": b"bc"}))


def test_content_hash_of_a_missing_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        content_hash(tmp_path / "nope")


def test_text_hash_depends_on_every_part():
    assert text_hash("image:1", "conda") != text_hash("image:2", "conda")
    assert text_hash("ab", "c") != text_hash("a", "bc")


@pytest.mark.parametrize(("seconds", "iso"), [(0.5, "PT0.5S"), (10, "PT10S"), (120, "PT2M"), (600, "PT10M"), (3600, "PT1H")])
def test_iso_seconds(seconds, iso):
    assert iso_seconds(seconds) == iso


def test_iso_ms_and_minutes():
    assert (iso_ms(500), iso_ms(5000), iso_minutes(30)) == ("PT0.5S", "PT5S", "PT30M")


@pytest.mark.parametrize(
    ("stack", "prefix"),
    [("dev", "loans"), ("prod", "loansprd"), ("a-very-long-feature-branch-stack-name", "abcdefgh"), ("Odd_Stack.Name", "x1")],
)
def test_derived_names_follow_azure_rules_for_any_stack(stack, prefix):
    n = derive_names("amlops", stack, prefix)
    suffix = stack_suffix("amlops", stack, prefix)
    assert re.fullmatch(r"[a-z0-9]{3,24}", n.storage_account) and n.storage_account.endswith(suffix), n.storage_account
    assert re.fullmatch(r"(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", n.key_vault) and n.key_vault.endswith(suffix), n.key_vault
    assert re.fullmatch(r"[a-zA-Z0-9]{5,50}", n.container_registry), n.container_registry
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9-]{2,61}[a-zA-Z0-9]", n.log_analytics), n.log_analytics
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}", n.workspace) and n.workspace.endswith(suffix), n.workspace
    assert re.fullmatch(r"[-\w.()]{1,90}", n.resource_group), n.resource_group
    assert 1 <= len(n.action_group_short) <= 12, n.action_group_short


def test_name_suffix_is_stable_across_processes_and_differs_per_stack():
    # another interpreter with another hash seed: a suffix built on hash() or randomness would differ
    code = "from infra.naming import stack_suffix; print(stack_suffix('amlops', 'dev', 'loans'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    assert other.stdout.strip() == stack_suffix("amlops", "dev", "loans")
    assert len({stack_suffix("amlops", s, "loans") for s in ("dev", "staging", "prod")}) == 3


def test_compute_args_reject_kubernetes_attach_without_a_cluster():
    from infra.compute import ComputeArgs

    args = ComputeArgs(
        resource_group_name="rg", workspace_name="ws", location="westeurope", settings=ComputeConfig(), subscription_id="s",
        stack_suffix="1a2b3c", registry_id="acr", key_vault_id="kv", assets_container_id="c", attach_kubernetes=True,
    )
    with pytest.raises(InvalidArgs, match=r"^Compute: settings.kubernetes is required to attach a Kubernetes compute$"):
        args.validate()


def test_autoscale_args_reject_default_outside_min_max():
    from infra.autoscale import AutoscaleArgs

    settings = AutoscaleConfig.model_construct(**{**AutoscaleConfig().model_dump(), "min_instances": 2, "default_instances": 1, "max_instances": 3})
    args = AutoscaleArgs(deployment_id="d", deployment_name="blue", endpoint_id="e", resource_group_name="rg", location="westeurope", settings=settings)
    with pytest.raises(InvalidArgs, match=r"^Autoscale: settings needs min ≤ default ≤ max instances, got 2/1/3$"):
        args.validate()


def test_code_asset_args_name_the_missing_entry_script(tmp_path):
    from infra.code_asset import CodeAssetArgs

    folder = make(tmp_path / "batch", {"file_batch.py": b""})
    args = CodeAssetArgs(
        asset_name="loans-batch", folder=folder, entry_scripts=("tabular_batch.py",), resource_group_name="rg",
        workspace_name="ws", storage_account_name="st", container_name="c", datastore_name="amlops_assets",
    )
    with pytest.raises(ArtifactMissing) as err:
        args.validate()
    assert str(err.value) == f"CodeAsset loans-batch: {folder} has no tabular_batch.py (files there: file_batch.py)"


def test_environment_args_need_the_conda_spec(tmp_path):
    from infra.environment import EnvironmentArgs

    args = EnvironmentArgs(environment_name="e", conda_file=tmp_path / "conda.yaml", resource_group_name="rg", workspace_name="ws")
    with pytest.raises(ArtifactMissing, match=r"^Environment e: no environment spec at .*conda\.yaml$"):
        args.validate()


def test_model_asset_args_reject_duplicate_versions():
    from infra.model_asset import ModelAssetArgs, ModelFiles

    args = ModelAssetArgs(model_name="m", versions=(ModelFiles(1, None), ModelFiles(1, None)), resource_group_name="rg", workspace_name="ws", azureml_registry="r")
    with pytest.raises(InvalidArgs, match=r"^ModelAsset: versions must be distinct, got \[1, 1\]$"):
        args.validate()


def test_derived_names_depend_on_the_subscription():
    """Stack files are shared: two subscriptions deploying one stack must not race for global names."""
    a = derive_names("amlops", "prod", "loansprd", scope="00000000-0000-0000-0000-000000000000")
    b = derive_names("amlops", "prod", "loansprd", scope="11111111-1111-1111-1111-111111111111")
    for field in ("storage_account", "key_vault", "container_registry", "workspace"):
        assert getattr(a, field) != getattr(b, field), field
    assert a == derive_names("amlops", "prod", "loansprd", scope="00000000-0000-0000-0000-000000000000".upper())


def test_rejected_loans_query_parses_the_exact_score_py_line():
    from infra.monitoring import REJECTED_LOANS_QUERY, REJECTED_LOG_LINE

    pattern = re.search(r'extract\(@"([^"]+)"', REJECTED_LOANS_QUERY).group(1)
    assert re.match(pattern, REJECTED_LOG_LINE % (1000, 137)).group(1) == "137"
    assert re.match(pattern, REJECTED_LOG_LINE % (1, 0)).group(1) == "0"
    for other in ("scored 5 rows", "scored five rows, 2 rejected", "rejected: data[0]: missing column 'age'"):
        assert re.match(pattern, other) is None, other
    assert REJECTED_LOANS_QUERY.startswith("traces\n") and REJECTED_LOANS_QUERY.endswith("| project timestamp, rejected")


def test_environment_args_refuse_a_latest_image(tmp_path):
    from infra.environment import INFERENCE_BASE_IMAGE, EnvironmentArgs

    conda = make(tmp_path, {"conda.yaml": b"name: e\n"}) / "conda.yaml"
    args = EnvironmentArgs(environment_name="e", conda_file=conda, resource_group_name="rg", workspace_name="ws", image="mcr.microsoft.com/azureml/curated/minimal-py311-inference:latest")
    with pytest.raises(InvalidArgs, match=r"^Environment: image must pin a version, not :latest"):
        args.validate()
    EnvironmentArgs(environment_name="e", conda_file=conda, resource_group_name="rg", workspace_name="ws").validate()
    assert INFERENCE_BASE_IMAGE == "mcr.microsoft.com/azureml/curated/minimal-py311-inference:59"


def test_autoscale_args_need_the_deployment_name():
    from infra.autoscale import AutoscaleArgs

    args = AutoscaleArgs(deployment_id="d", deployment_name="", endpoint_id="e", resource_group_name="rg", location="westeurope", settings=AutoscaleConfig())
    with pytest.raises(InvalidArgs, match=r"^Autoscale: deployment_name must name the deployment, got ''$"):
        args.validate()


def test_liveness_probe_success_threshold_must_be_one():
    import yaml

    from infra.config import ConfigError, parse_config

    raw = {k.removeprefix("amlops:"): v for k, v in yaml.safe_load((Path(__file__).parent.parent / "stacks" / "Pulumi.dev.yaml").read_text())["config"].items()}
    raw["online"]["deployments"]["blue"]["livenessProbe"] = {"successThreshold": 2}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, source="stacks/Pulumi.dev.yaml")
    assert str(err.value) == (
        "stacks/Pulumi.dev.yaml: amlops:online.deployments.blue.livenessProbe.successThreshold: must be 1 "
        "(a liveness probe that failed restarts the container; Kubernetes accepts no other value), got 2"
    )


def _dev_raw() -> dict:
    import yaml

    doc = yaml.safe_load((Path(__file__).parent.parent / "stacks" / "Pulumi.dev.yaml").read_text())
    return {k.removeprefix("amlops:"): v for k, v in doc["config"].items()}


@pytest.mark.parametrize("base", ["ab", "loans-prod-online", "a" * 25, "Loans-Online-2"])
def test_endpoint_name_appends_the_suffix_and_passes_azure_ai_mls_check(base):
    from azure.ai.ml.entities._endpoint._endpoint_helpers import validate_endpoint_or_deployment_name

    name = endpoint_name(base, "1a2b3c")
    assert name == f"{base}-1a2b3c" and is_endpoint_name(name), name
    validate_endpoint_or_deployment_name(name)


@pytest.mark.parametrize("base", ["a", "a" * 26, "1-online", "loans-", "loans_online", "loans.online"])
def test_endpoint_name_refuses_a_base_azure_would_refuse_once_suffixed(base):
    with pytest.raises(ValueError) as err:
        endpoint_name(base, "1a2b3c")
    assert str(err.value) == (
        "must be 2-25 letters, digits or hyphens, starting with a letter and not ending with a hyphen "
        f"(the stack suffix '-xxxxxx' takes the rest of Azure's 32), got {base!r}"
    )


def test_online_endpoint_base_name_too_long_for_the_suffix_names_the_key():
    from infra.config import ConfigError, parse_config

    raw = _dev_raw()
    raw["online"]["endpointName"] = "loans-development-online-x"  # 26 characters
    with pytest.raises(ConfigError) as err:
        parse_config(raw, source="stacks/Pulumi.dev.yaml")
    assert str(err.value) == (
        "stacks/Pulumi.dev.yaml: amlops:online.endpointName: must be 2-25 letters, digits or hyphens, starting with a "
        "letter and not ending with a hyphen (the stack suffix '-xxxxxx' takes the rest of Azure's 32), "
        "got 'loans-development-online-x'"
    )


def test_derived_suffix_is_the_stack_suffix():
    assert derive_names("amlops", "prod", "loansprd", scope="s").suffix == stack_suffix("amlops", "prod", "loansprd", "s")


def test_kubernetes_target_refuses_autoscale_naming_the_key():
    from infra.config import ConfigError, parse_config

    raw = _dev_raw()
    raw["compute"]["kubernetes"] = {"resourceId": "/subscriptions/s/resourceGroups/aks/providers/Microsoft.ContainerService/managedClusters/a"}
    raw["online"]["target"] = "kubernetes"
    raw["online"]["autoscale"] = {"enabled": True}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, source="stacks/Pulumi.dev.yaml")
    assert str(err.value) == (
        "stacks/Pulumi.dev.yaml: amlops:online.autoscale.enabled: must be false when online.target is kubernetes: "
        "autoscale (monitor.AutoscaleSetting on sku.capacity) scales managed deployments only, and a Kubernetes "
        "deployment would silently ignore it; size it with amlops:online.deployments.<name>.instanceCount"
    )
