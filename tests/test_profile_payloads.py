"""Request bodies: the book's 500 loans by default, or a JSON Lines / JSON array file; bad lines are named."""

from __future__ import annotations

import json

import pytest

from amlops.data import generate_loans
from amlops.errors import DataError
from amlops.profiling.payloads import loans_payloads, read_payloads


def test_profile_default_payloads_are_one_loans_row_each():
    bodies = loans_payloads()
    first = generate_loans().iloc[0]
    assert len(bodies) == 500
    assert json.loads(bodies[0]) == {"data": [[float(first.income), int(first.credit_cards), int(first.age)]]}
    assert all(len(json.loads(b)["data"]) == 1 for b in bodies)


def test_profile_requests_jsonl_skips_blank_lines(tmp_path):
    path = tmp_path / "requests.jsonl"
    path.write_text('{"data": [[5000, 2, 40]]}\n\n{"data": [{"income": 1, "credit_cards": 0, "age": 30}], "method": "predict_proba"}\n')
    assert read_payloads(path) == [
        b'{"data":[[5000,2,40]]}',
        b'{"data":[{"income":1,"credit_cards":0,"age":30}],"method":"predict_proba"}',
    ]


def test_profile_requests_json_array_is_read(tmp_path):
    path = tmp_path / "requests.json"
    path.write_text('[\n  {"data": [[1, 2, 3]]},\n  {"data": [[4, 5, 6]]}\n]\n')
    assert read_payloads(path) == [b'{"data":[[1,2,3]]}', b'{"data":[[4,5,6]]}']


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"data": [[1, 2, 3]]}\n{"data": [[1, 2\n', "line 2, column 16: not valid JSON: Expecting ',' delimiter"),
        ('{"data": [[1, 2, 3]]}\n[1, 2, 3]\n', 'line 2: expected a JSON object such as {"data": [[5000.0, 2, 40]]}, got list [1, 2, 3]'),
        ('[{"data": [[1, 2, 3]]},\n {"data": oops}]', "line 2, column 11: not valid JSON: Expecting value"),
        ('[{"data": [[1, 2, 3]]}, 7]', 'item 2: expected a JSON object such as {"data": [[5000.0, 2, 40]]}, got int 7'),
        ("\n\n", "holds no payloads (expected JSON Lines or a JSON array of objects)"),
        ("[]", "holds no payloads (expected JSON Lines or a JSON array of objects)"),
    ],
)
def test_profile_bad_requests_file_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "requests.jsonl"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        read_payloads(path)
    assert str(err.value) == f"{path}: {message}"


def test_profile_missing_requests_file_raises(tmp_path):
    with pytest.raises(DataError) as err:
        read_payloads(tmp_path / "nope.jsonl")
    assert str(err.value) == f"{tmp_path / 'nope.jsonl'}: no such requests file"
