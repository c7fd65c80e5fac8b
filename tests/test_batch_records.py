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


def test_csv_records_a_quoted_header_over_plain_rows_is_counted_by_its_line_feeds(monkeypatch):
    """What `batch split` writes (a header whose names are quoted, rows that need no quotes) is counted without the
    quote-aware scan, and as the byte-by-byte reference counts it, empty lines and unterminated last lines included."""
    import random

    from amlops.batching import records

    rng = random.Random(5)
    cases = [b'"id","x"\nA1,1\nA2,2\n', b'"a,b",c\n\n1,2', b'"id"\n', b'""\nx\n\n\n']
    for _ in range(2000):
        head = b",".join(rng.choice([b'"id"', b'"a,b"', b'""', b"x", b'"say ""hi"""']) for _ in range(rng.randint(1, 4)))
        body = b"".join(rng.choice([b"\n", b"\n\n", b"a", b",", b"1"]) for _ in range(rng.randint(0, 30)))
        cases.append(head + b"\n" + body)
    expected = [_reference(data) for data in cases]

    def scanned(data):
        raise AssertionError(f"scanned: {data!r}")

    monkeypatch.setattr(records, "_scanned", scanned)
    assert [csv_records(data) for data in cases] == expected


@pytest.mark.parametrize("data", [b'"a\nb",c\n1,2\n', b'"a",b\n"1",2\n', b'a\r\nb\r\n', b'"a\n'])
def test_csv_records_quotes_past_the_first_line_or_a_cr_agree_with_the_scan(data):
    assert csv_records(data) == _scanned(data) == _reference(data)


def test_lines_and_records_counts_line_feeds_as_bytes_count():
    from amlops.batching.records import lines_and_records

    for data in (b"", b"\n", b"a", b"a\nb\n\n", b"x\r\n" * 1000):
        assert lines_and_records(data)[0] == data.count(b"\n")
