"""The compiled fast path of normalisation agrees with model.normalise, entry for entry.

`normalise_many` may hand any entry back (None) for normalise() to decide; where it
returns a row, that row must be exactly normalise()'s. The common shapes must not be
handed back, or the fast path would silently stop being fast.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timberyard import _fastmodel, model
from timberyard.errors import ValidationIssue
from timberyard.model import BROWSER_LIMITS, DEFAULT_LIMITS, Limits, normalise, normalise_many

from test_model import BAD_CASES, NOW, OK_CASES

BASE = {"project_id": "prj_1", "received_ms": NOW // 1_000_000}


def reference(raw: Any, defaults: dict[str, str] | None, limits: Limits) -> dict[str, Any] | None:
    """normalise()'s row, or None where it rejects the entry."""
    try:
        return normalise(raw, defaults=defaults, limits=limits, now_ns=NOW, base=BASE)
    except ValidationIssue:
        return None


def check(entries: list[Any], defaults: dict[str, str] | None = None,
          limits: Limits = DEFAULT_LIMITS) -> list[dict[str, Any] | None]:
    fast = normalise_many(entries, defaults=defaults, limits=limits, now_ns=NOW, base=BASE)
    assert len(fast) == len(entries)
    for raw, row in zip(entries, fast, strict=True):
        if row is not None:
            assert row == reference(raw, defaults, limits), raw
    return fast


def test_the_compiled_path_is_built() -> None:
    assert model.COMPILED, "timberyard._fastmodel did not build: run ./scripts/setup"


@pytest.mark.parametrize(("raw", "expected"), OK_CASES)
def test_agrees_on_every_valid_case(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    check([raw])


@pytest.mark.parametrize(("raw", "reason"), BAD_CASES)
def test_hands_every_invalid_entry_back(raw: Any, reason: str) -> None:
    assert check([raw]) == [None]


COMMON = [
    {"message": "GET /api 200", "level": "info", "timestamp": "2024-01-15T10:30:00.123Z",
     "service": "api", "environment": "production", "requestId": "req_1",
     "fields": {"route": "/api", "durationMs": 12, "status": 200}},
    {"message": "x", "level": "WARNING", "timestamp": 1705312200000, "source": "nginx"},
    {"message": "x", "timestamp": "2024-01-15T10:30:00+01:00", "tags": ["a", "b"], "stepIndex": 3},
    {"message": "x", "timestamp": "2024-01-15T10:30:00.123456789Z", "data": {"a": {"b": [1, 2]}}},
    {"message": "x", "fields": {"service": "api"}, "unknown": "kept", "sessionId": "s"},
    {"message": "x", "fields": {"a": 1}, "details": {"b": 2}, "level": None},
    {"message": "x", "timestamp": 1705312200},
]


def test_takes_the_common_shapes() -> None:
    fast = check(COMMON)
    assert None not in fast


def test_query_defaults_and_limits() -> None:
    defaults = {"service": "nginx", "environment": "production", "level": "warn", "dataset": "edge"}
    fast = check([{"message": "x"}, {"message": "x", "level": "error", "env": "dev"}], defaults)
    assert fast[0] is not None and fast[0]["level"] == "warn" and fast[0]["dataset"] == "edge"
    assert fast[1] is not None and fast[1]["environment"] == "dev"
    # A message past a quarter of the byte limit goes to normalise(), which measures it.
    assert check([{"message": "x" * 5000}], limits=BROWSER_LIMITS) == [None]


def test_first_alias_wins_even_over_an_invalid_later_one() -> None:
    fast = check([{"message": "x", "service": "a", "source": 12}])
    assert fast[0] is not None and fast[0]["service"] == "a"


def test_server_keys_go_to_normalise() -> None:
    assert check([{"message": "x", "id": "mine"}]) == [None]


# -- timestamps -----------------------------------------------------------------

ISO_CASES = [
    "2024-01-15T10:30:00Z",
    "2024-01-15T10:30:00",
    "2024-01-15T10:30:00.1Z",
    "2024-01-15T10:30:00.123456Z",
    "2024-01-15T10:30:00.1234567Z",
    "2024-01-15T10:30:00.123456789-05:30",
    "2024-02-29T00:00:00Z",
    "2000-02-29T23:59:59.999+23:59",
    "1970-01-01T00:00:00Z",
    "2261-12-31T23:59:59Z",
]


@pytest.mark.parametrize("text", ISO_CASES)
def test_iso_agrees_with_parse_time(text: str) -> None:
    assert _fastmodel.parse_iso(text) == model.parse_time(text)


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-29T00:00:00Z",  # not a leap year
        "1900-02-29T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-01-32T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-01-15T24:00:00Z",
        "2024-01-15T10:60:00Z",
        "2024-01-15T10:30:60Z",
        "2024-01-15T10:30:00.Z",
        "2024-01-15T10:30:00.1234567891Z",  # past nanoseconds
        "2024-01-15 10:30:00",  # valid, but a rarer spelling: normalise() takes it
        "2024-01-15T10:30:00+0100",
        "2024-01-15T10:30:00+24:00",
        "2024-01-15T10:30:00ZZ",
        "2024-01-15",
        "1969-12-31T23:59:59Z",
        "2262-06-01T00:00:00Z",
        "２０２４-01-15T10:30:00Z",
        "",
    ],
)
def test_iso_hands_back_what_it_does_not_take(text: str) -> None:
    assert _fastmodel.parse_iso(text) is None


moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2261, 12, 30), timezones=st.just(UTC)
)


@settings(max_examples=400, deadline=None)
@given(moments, st.integers(0, 9), st.integers(-23 * 60 - 59, 23 * 60 + 59), st.booleans())
def test_iso_property(moment: datetime, digits: int, offset_min: int, zulu: bool) -> None:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{moment.microsecond:06d}987"[:digits]
    if zulu:
        text += "Z"
    else:
        sign = "-" if offset_min < 0 else "+"
        text += f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    fast = _fastmodel.parse_iso(text)
    try:
        expected = model.parse_time(text)
    except ValidationIssue:
        assert fast is None  # shifted out of range by the offset
        return
    assert fast == expected


# -- whole entries --------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                        max_size=3),
    max_leaves=6,
)
KEYS = [*model._KEYS, "id", "severity", "received_at", "other", "x"]
values_for = {
    "message": st.one_of(st.text(max_size=10), st.sampled_from(["", " x", "x "]), json_values),
    "level": st.one_of(st.sampled_from([*model.LEVEL_ALIASES, "WARN", "Err", "banana", " info"]),
                       json_values),
    "timestamp": st.one_of(st.sampled_from(ISO_CASES), st.integers(-10, 2**64),
                           st.sampled_from([1705312200, 1705312200000, 1705312200000000, "17"]),
                           json_values),
    "tags": st.one_of(st.lists(st.text(max_size=60), max_size=22), st.text(max_size=60), json_values),
    "stepIndex": st.one_of(st.integers(-5, 1005), st.floats(0, 1001), json_values),
}


@st.composite
def entries(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 30)) == 0:
        return draw(json_values)
    keys = draw(st.lists(st.sampled_from(KEYS), max_size=8, unique=True))
    entry = {}
    for key in keys:
        strategy = values_for.get(key)
        if strategy is None:
            spec = model._KEYS.get(key)
            if spec and spec[0] == "s":
                strategy = st.one_of(st.text(max_size=110), json_values)
            else:
                strategy = json_values
        entry[key] = draw(strategy)
    if draw(st.booleans()):
        entry.setdefault("message", "m")
    return entry


@settings(max_examples=600, deadline=None)
@given(st.lists(entries(), max_size=5),
       st.sampled_from([None, {}, {"service": "d", "level": "warn", "dataset": "ds"}]))
def test_property_agrees_with_normalise(batch: list[Any], defaults: dict[str, str] | None) -> None:
    # Entries as the JSON decoder hands them over (exact dicts, lists, str, int, float).
    batch = msgspec.json.decode(msgspec.json.encode(batch))
    check(batch, defaults)
    check(batch, defaults, BROWSER_LIMITS)


def test_timestamps_shifted_by_offsets_stay_exact() -> None:
    moment = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    for minutes in (-90, 0, 330):
        zone = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        text = (moment + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S") + zone
        assert _fastmodel.parse_iso(text) == int(moment.timestamp()) * 10**9
