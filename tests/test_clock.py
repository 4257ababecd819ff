"""keysweep spells every moment one way; these pin that spelling byte for byte."""

from datetime import datetime, timedelta, timezone

import pytest

from keysweep.clock import parse_utc, utc_iso


def test_utc_iso_spells_a_utc_moment_to_the_second_with_z():
    assert utc_iso(datetime(2025, 3, 1, 10, 0, 0, 999_999, tzinfo=timezone.utc)) == "2025-03-01T10:00:00Z"


def test_utc_iso_converts_an_aware_moment_and_takes_a_naive_one_as_utc():
    plus_two = timezone(timedelta(hours=2))
    assert utc_iso(datetime(2025, 3, 1, 12, 0, tzinfo=plus_two)) == "2025-03-01T10:00:00Z"
    assert utc_iso(datetime(2025, 3, 1, 10, 0)) == "2025-03-01T10:00:00Z"


def test_utc_iso_without_a_moment_is_now():
    before = datetime.now(timezone.utc).replace(microsecond=0)
    stamp = parse_utc(utc_iso())
    assert before <= stamp <= datetime.now(timezone.utc)


@pytest.mark.parametrize("text, expected", [
    ("2025-03-01T10:00:00Z", datetime(2025, 3, 1, 10, tzinfo=timezone.utc)),
    ("2025-03-01T12:00:00+02:00", datetime(2025, 3, 1, 10, tzinfo=timezone.utc)),
    ("2025-03-01T10:00:00", datetime(2025, 3, 1, 10, tzinfo=timezone.utc)),
])
def test_parse_utc_reads_z_offsets_and_naive_as_aware(text, expected):
    moment = parse_utc(text)
    assert moment == expected and moment.tzinfo is not None
    assert utc_iso(moment) == "2025-03-01T10:00:00Z"


def test_parse_utc_refuses_garbage():
    with pytest.raises(ValueError):
        parse_utc("yesterday")
