"""NAME:VERSION: one parser for serve, batch, model show and promote."""

from __future__ import annotations

import pytest

from amlops.errors import UsageError
from amlops.modelref import parse_model_ref


@pytest.mark.parametrize(
    ("ref", "parsed"), [("chapter12-loans:1", ("chapter12-loans", 1)), ("org.team:loans:12", ("org.team:loans", 12))]
)
def test_model_ref_splits_at_the_last_colon(ref, parsed):
    assert parse_model_ref(ref) == parsed


@pytest.mark.parametrize("ref", ["chapter12-loans", "chapter12-loans:0", "chapter12-loans:x", ":3", "loans:", " :1"])
def test_model_ref_without_a_valid_version_names_the_option(ref):
    with pytest.raises(UsageError) as err:
        parse_model_ref(ref, "--model")
    assert str(err.value) == f"--model takes NAME:VERSION with a version ≥ 1, e.g. chapter12-loans:1, got {ref!r}"


def test_model_ref_version_optional_accepts_a_bare_name():
    assert parse_model_ref("chapter12-loans", "NAME", version_required=False) == ("chapter12-loans", None)
    with pytest.raises(UsageError) as err:
        parse_model_ref("chapter12-loans:v2", "NAME", version_required=False)
    assert str(err.value) == "NAME takes NAME or NAME:VERSION with a version ≥ 1, e.g. chapter12-loans:1, got 'chapter12-loans:v2'"
