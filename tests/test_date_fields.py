"""field_spans finds the day, month and year of every surface form of a date."""

import datetime

import pytest

from llmxai.data import DATE_FORMATS, TARGET_FIELDS, field_spans, format_date, generate_dates
from llmxai.data.dates import MONTHS


def test_spans_of_every_style_read_back_the_date():
    for ex in generate_dates(600, seed=1):
        spans = field_spans(ex.source)
        text = {k: ex.source[a:b] for k, (a, b) in spans.items()}
        assert int(text["day"].rstrip("stndrh")) == ex.date.day
        month = text["month"]
        if month.isdigit():
            assert int(month) == ex.date.month
        else:
            assert MONTHS[ex.date.month - 1].lower().startswith(month.lower())
        assert int(text["year"]) % 100 == ex.date.year % 100
        assert {k: ex.target[a:b] for k, (a, b) in TARGET_FIELDS.items()} == {
            "year": f"{ex.date.year:04d}", "month": f"{ex.date.month:02d}", "day": f"{ex.date.day:02d}"}


def test_spans_by_hand():
    d = datetime.date(2021, 3, 3)
    assert field_spans(format_date(d, "the_ordinal_of")) == {"day": (4, 7), "month": (11, 16), "year": (18, 22)}
    assert field_spans(format_date(d, "dd/mm/yyyy")) == {"day": (0, 2), "month": (3, 5), "year": (6, 10)}
    assert field_spans("May 2 1999") == {"day": (4, 5), "month": (0, 3), "year": (6, 10)}
    assert len(DATE_FORMATS) == 11


@pytest.mark.parametrize("bad, err", [
    (12, TypeError),
    ("", ValueError),
    ("3 March", ValueError),
    ("March May 2021", ValueError),
    ("1 2 3 4", ValueError),
])
def test_field_spans_bad_input(bad, err):
    with pytest.raises(err, match="source"):
        field_spans(bad)
