"""Counting CSV records for the job summary: line feeds alone where the bytes allow it, else the quote-aware scan."""

from __future__ import annotations

import pytest

from amlops.batching.records import _scanned, csv_records


@pytest.mark.parametrize(("data", "records"), [
    (b"id,x\nA1,1\nA2,2\n", 3),
    (b"id,x\nA1,1\nA2,2", 3),  # the last line unterminated
    (b"id,x\n", 1),
    (b"id,x", 1),
    (b"\nid,x\nA1,1\n", 2),  # an empty first line is no record
    (b"id,x\n\n\nA1,1\n", 2),  # nor are empty lines between records
    (b'id,x\n"A\n1",1\nA2,2\n', 3),  # a line break inside quotes
    (b'id,x\r\nA1,1\r\nA2,2\r\n', 3),
    (b"id,x\rA1,1\rA2,2", 3),  # lone CR line ends
])
def test_csv_records_counts_records_not_lines(data, records):
    assert csv_records(data) == records
    assert csv_records(data, header=True) == records - 1


@pytest.mark.parametrize("data", [
    b"a\n", b"a", b"a\nb", b"a\nb\n", b"a,b\nc,d\ne,f\n" * 1000, b"x" * 5000 + b"\n" + b"y\n" * 300,
])
def test_csv_records_line_feed_count_agrees_with_the_scan(data):
    assert b'"' not in data and b"\r" not in data and b"\n\n" not in data  # the inputs the line-feed count takes
    assert csv_records(data) == _scanned(data)


def test_csv_records_quote_parity_past_255_quotes():
    data = b'id,x\n' + b'"A",1\n' * 200 + b'"multi\nline",2\n'
    assert csv_records(data) == 1 + 200 + 1


def _reference(data: bytes) -> int:
    """Records counted byte by byte: a line end (LF, CR, CRLF) outside quotes that ends a non-empty line."""
    records, inside, line_has_bytes, i = 0, False, False, 0
    while i < len(data):
        b = data[i:i + 1]
        if b == b'"':
            inside = not inside
        if b in (b"\n", b"\r") and not inside:
            if b == b"\r" and data[i + 1:i + 2] == b"\n":
                i += 1
            records += line_has_bytes
            line_has_bytes = False
        else:
            line_has_bytes = True
        i += 1
    return records + line_has_bytes


def test_csv_records_matches_a_byte_by_byte_count_on_random_csv_bytes():
    import random

    rng = random.Random(21)
    alphabet = [b'"', b"\n", b"\r", b"\r\n", b"a", b",", b"1"]
    for _ in range(3000):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        assert csv_records(data) == _reference(data), data


def test_csv_records_quoted_bytes_with_lf_line_ends_match_the_byte_by_byte_count():
    """Quotes and line feeds only, as pyarrow writes CSV: the LF-only scan agrees with the reference."""
    import random

    rng = random.Random(7)
    alphabet = [b'"', b'""', b"\n", b"\n\n", b"a", b",", b'"a",']
    for _ in range(3000):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        assert b"\r" not in data
        assert csv_records(data) == _reference(data), data
