"""Date normalisation pairs for a character-level sequence-to-sequence model.

A date written in one of several surface forms maps to its ISO 8601 form ``YYYY-MM-DD``:
"3rd of March 2021", "March 3, 2021" and "03/03/2021" all map to "2021-03-03".

Conventions, so that every source has exactly one answer:

- numeric forms are day first (``DD/MM/YYYY``, ``D.M.YYYY``), as in most of the world;
- two-digit years ``00``-``49`` are 2000-2049 and ``50``-``99`` are 1950-1999, and dates
  are drawn from 1950-01-01 to 2049-12-31, so a two-digit year is never ambiguous;
- no weekday names (a weekday that contradicts the date would have no right answer).
"""

import datetime
import random
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from llmxai import validate
from llmxai.data.tokenize import BOS_ID, EOS_ID, PAD_ID, CharTokenizer, Tokenizer, pad_batch
from llmxai.device import shift_seed

FIRST_DATE = datetime.date(1950, 1, 1)
LAST_DATE = datetime.date(2049, 12, 31)
MONTHS = ("January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December")
TARGET_LENGTH = 10  # len("YYYY-MM-DD")


def ordinal(day):
    """``1 -> "1st"``, ``2 -> "2nd"``, ``11 -> "11th"``, ``23 -> "23rd"``."""
    validate.positive_int(day, "day")
    if 11 <= day % 100 <= 13:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th') }"


def _month(d):
    return MONTHS[d.month - 1]


DATE_FORMATS = {
    "ordinal_of": lambda d: f"{ordinal(d.day)} of {_month(d)} {d.year}",
    "month_day_comma": lambda d: f"{_month(d)} {d.day}, {d.year}",
    "month_ordinal_comma": lambda d: f"{_month(d)} {ordinal(d.day)}, {d.year}",
    "day_month_year": lambda d: f"{d.day} {_month(d)} {d.year}",
    "day_mon_yy": lambda d: f"{d.day} {_month(d)[:3]} {d.year % 100:02d}",
    "mon_day_year": lambda d: f"{_month(d)[:3]} {d.day} {d.year}",
    "dd_mon_yyyy": lambda d: f"{d.day:02d}-{_month(d)[:3]}-{d.year}",
    "dd/mm/yyyy": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    "d.m.yyyy": lambda d: f"{d.day}.{d.month}.{d.year}",
    "lower_day_month_year": lambda d: f"{d.day} {_month(d).lower()} {d.year}",
    "the_ordinal_of": lambda d: f"the {ordinal(d.day)} of {_month(d).lower()}, {d.year}",
}


def format_date(date, style):
    """Write ``date`` (a :class:`datetime.date`) in the named style of :data:`DATE_FORMATS`."""
    if not isinstance(date, datetime.date):
        raise TypeError(f"date: expected a datetime.date, got {type(date).__name__}")
    if not FIRST_DATE <= date <= LAST_DATE:
        raise ValueError(f"date: expected a date from {FIRST_DATE} to {LAST_DATE}, got {date}")
    validate.choice(style, "style", DATE_FORMATS)
    return DATE_FORMATS[style](date)


_WORD = re.compile(r"[A-Za-z]+|[0-9]+(?:st|nd|rd|th)?")
TARGET_FIELDS = {"year": (0, 4), "month": (5, 7), "day": (8, 10)}  # spans of "YYYY-MM-DD"


def field_spans(source):
    """Character spans ``{"day": (start, stop), "month": ..., "year": ...}`` of a source date.

    A month name (or its three-letter abbreviation) is the month; the numbers, read left
    to right, are day and year, or day, month and year when there is no month name (the
    styles of :data:`DATE_FORMATS` are day first). An ordinal suffix belongs to the day.
    The spans of the ISO target are :data:`TARGET_FIELDS`.
    """
    if not isinstance(source, str):
        raise TypeError(f"source: expected a str, got {type(source).__name__}")
    names = {m.lower() for m in MONTHS} | {m[:3].lower() for m in MONTHS}
    month, numbers = [], []
    for w in _WORD.finditer(source):
        if w.group()[0].isdigit():
            numbers.append(w.span())
        elif w.group().lower() in names:
            month.append(w.span())
    if len(month) + len(numbers) != 3 or len(month) > 1:
        raise ValueError(f"source: expected a date with a day, a month and a year, got {source!r}")
    if month:
        return {"day": numbers[0], "month": month[0], "year": numbers[1]}
    return dict(zip(("day", "month", "year"), numbers))


def date_tokenizer():
    """Character tokenizer over every character any style can write (sources and ISO targets)."""
    chars = set("0123456789-")
    for month in range(1, 13):
        d = datetime.date(2001, month, 1)
        for day in (1, 2, 3, 4):
            for fmt in DATE_FORMATS.values():
                chars |= set(fmt(d.replace(day=day)))
    return CharTokenizer(sorted(chars))


@dataclass(frozen=True)
class DateExample:
    source: str
    target: str
    style: str
    date: datetime.date


def generate_dates(n, seed=0, *, styles=None):
    """``n`` (source, ISO target) pairs for ``n`` distinct dates, each in a random style."""
    validate.positive_int(n, "n")
    validate.seed(seed)
    styles = list(DATE_FORMATS) if styles is None else list(styles)
    if not styles:
        raise ValueError("styles: expected at least one style, got none")
    for s in styles:
        validate.choice(s, "styles", DATE_FORMATS)
    n_days = (LAST_DATE - FIRST_DATE).days + 1
    if n > n_days:
        raise ValueError(f"n: expected at most {n_days} (one example per distinct date), got {n}")
    rng = random.Random(shift_seed(seed))
    offsets = rng.sample(range(n_days), n)
    examples = []
    for k in offsets:
        date = FIRST_DATE + datetime.timedelta(days=k)
        style = rng.choice(styles)
        examples.append(DateExample(DATE_FORMATS[style](date), date.isoformat(), style, date))
    return examples


@dataclass
class DateSplit:
    """Source ids (N, S) padded, source lengths (N,), target ids (N, 12) = <bos> YYYY-MM-DD <eos>."""

    source: torch.Tensor
    source_lengths: torch.Tensor
    target: torch.Tensor
    examples: list

    @property
    def tensors(self):
        """``(source, source_lengths, target)``; teacher forcing reads ``target[:, :-1]``
        and predicts ``target[:, 1:]``."""
        return self.source, self.source_lengths, self.target

    def __len__(self):
        return len(self.examples)


@dataclass
class DateData:
    train: DateSplit
    test: DateSplit
    tokenizer: CharTokenizer


def encode_dates(examples, tokenizer=None):
    """Pad a list of :class:`DateExample` into a :class:`DateSplit`."""
    if not isinstance(examples, (list, tuple)) or not examples:
        raise ValueError("examples: expected a non-empty list of DateExample")
    for i, ex in enumerate(examples):
        if not isinstance(ex, DateExample):
            raise TypeError(f"examples[{i}]: expected a DateExample, got {type(ex).__name__}")
    tokenizer = tokenizer or date_tokenizer()
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"tokenizer: expected a llmxai.data Tokenizer, got {type(tokenizer).__name__}")
    source, source_lengths = pad_batch([tokenizer.encode(ex.source) for ex in examples])
    target, _ = pad_batch([tokenizer.encode(ex.target, add_bos=True, add_eos=True) for ex in examples])
    return DateSplit(source, source_lengths, target, list(examples))


def date_dataset(n_train=4000, n_test=500, seed=0, *, styles=None):
    """Train and test pairs over disjoint dates (no date of the test split is seen in training)."""
    validate.positive_int(n_train, "n_train")
    validate.positive_int(n_test, "n_test")
    examples = generate_dates(n_train + n_test, seed, styles=styles)
    tokenizer = date_tokenizer()
    return DateData(encode_dates(examples[:n_train], tokenizer), encode_dates(examples[n_train:], tokenizer), tokenizer)


# --- the task metric: greedy outputs against the ISO dates ---------------------------------

DATE_OUTPUT_LENGTH = 11  # "YYYY-MM-DD" and <eos>


def date_predictions(model, split, batch_size=500):
    """Greedy outputs ``(N, 11)`` (padded with 0 after ``<eos>``) for a :class:`llmxai.data.DateSplit`."""
    device = next(model.parameters()).device
    outs = []
    with torch.no_grad():
        for start in range(0, len(split), batch_size):
            src = split.source[start:start + batch_size].to(device)
            lengths = split.source_lengths[start:start + batch_size].to(device)
            tokens, _ = model.greedy_decode(src, DATE_OUTPUT_LENGTH, BOS_ID, EOS_ID, lengths)
            outs.append(F.pad(tokens, (0, DATE_OUTPUT_LENGTH - tokens.shape[1]), value=PAD_ID).cpu())
    return torch.cat(outs)


def date_scores(model, split):
    """``(exact match, character accuracy)`` of greedy decoding on a :class:`llmxai.data.DateSplit`."""
    was_training = model.training
    model.eval()
    try:
        pred = date_predictions(model, split)
    finally:
        model.train(was_training)
    want = split.target[:, 1:1 + DATE_OUTPUT_LENGTH]  # (N, 11): the date and <eos>
    same = pred == want
    return float(same.all(dim=1).float().mean()), float(same.float().mean())
