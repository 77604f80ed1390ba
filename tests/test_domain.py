"""The rules of the readings business, as plain functions."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from agi.readings.rules import (
    AcceptanceWindow,
    ConsumptionPolicy,
    Reason,
    Register,
    Resource,
    Zone,
    check_value,
    parse_accept_days,
    zone_count_of,
    zones_for,
)

MSK = ZoneInfo("Europe/Moscow")
POLICY = ConsumptionPolicy()


@pytest.mark.parametrize(
    ("count", "zones"),
    [
        (1, (Zone.SINGLE,)),
        (2, (Zone.DAY, Zone.NIGHT)),
        (3, (Zone.PEAK, Zone.SEMIPEAK, Zone.NIGHT)),
    ],
)
def test_zones_are_asked_in_fixed_order(count, zones):
    assert zones_for(count) == zones
    assert zone_count_of(frozenset(zones)) == count


def test_a_meter_has_one_to_three_zones():
    with pytest.raises(ValueError, match="1, 2 or 3"):
        zones_for(4)
    assert zone_count_of(frozenset({Zone.DAY})) is None
    assert zone_count_of(frozenset({Zone.SINGLE, Zone.NIGHT})) is None


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (datetime(2026, 11, 17, 23, 59, tzinfo=MSK), False),
        (datetime(2026, 11, 18, 0, 0, tzinfo=MSK), True),
        (datetime(2026, 11, 25, 23, 59, tzinfo=MSK), True),
        (datetime(2026, 11, 26, 0, 0, tzinfo=MSK), False),
        # 21:30 UTC on the 17th is already 00:30 on the 18th in Moscow
        (datetime(2026, 11, 17, 21, 30, tzinfo=UTC), True),
        # 21:30 UTC on the 25th is the 26th in Moscow: closed
        (datetime(2026, 11, 25, 21, 30, tzinfo=UTC), False),
    ],
)
def test_window_is_18th_to_25th_in_the_company_time_zone(moment, is_open):
    assert AcceptanceWindow().is_open(moment) is is_open


def test_period_is_the_local_month():
    window = AcceptanceWindow(first_day=1, last_day=31)
    assert window.period(datetime(2026, 11, 30, 21, 30, tzinfo=UTC)) == "2026-12"
    assert window.period(datetime(2026, 11, 30, 20, 59, tzinfo=UTC)) == "2026-11"


@pytest.mark.parametrize(
    ("text", "days"), [("18-25", (18, 25)), (" 1 - 31 ", (1, 31)), ("20-20", (20, 20))]
)
def test_accept_days_are_written_first_last(text, days):
    assert parse_accept_days(text) == days


@pytest.mark.parametrize("text", ["25-18", "0-10", "10-32", "18", "18..25", "a-b", ""])
def test_bad_accept_days_are_refused_with_an_example(text):
    with pytest.raises(ValueError, match="18-25"):
        parse_accept_days(text)


def test_window_refuses_impossible_days_and_unknown_time_zones():
    with pytest.raises(ValueError, match="18-25"):
        AcceptanceWindow(first_day=26, last_day=25)
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        AcceptanceWindow(timezone="Mars/Olympus")


def check(text, *, previous=None, average=None, digits=6, resource=Resource.ELECTRICITY):
    register = Register(Zone.SINGLE, previous=previous, average=average)
    return check_value(text, resource=resource, digits=digits, register=register, policy=POLICY)


@pytest.mark.parametrize(
    ("text", "previous", "digits", "value", "reason"),
    [
        ("11638", 11480, 6, 11638, None),
        ("011638", 11480, 6, 11638, None),  # leading zeros are dropped
        ("0000", None, 6, 0, None),
        ("", None, 6, None, Reason.EMPTY),
        ("  ", None, 6, None, Reason.EMPTY),
        ("116,38", None, 6, None, Reason.NOT_DIGITS),
        ("116.38", None, 6, None, Reason.NOT_DIGITS),
        ("-5", None, 6, None, Reason.NOT_DIGITS),
        ("١٢٣", None, 6, None, Reason.NOT_DIGITS),  # non-ASCII digits are not meter digits
        ("1234567", None, 6, 1234567, Reason.TOO_MANY_DIGITS),
        ("0123456", None, 6, 123456, None),  # seven keys, six digits once zeros are dropped
        ("11479", 11480, 6, 11479, Reason.BELOW_PREVIOUS),
        ("11480", 11480, 6, 11480, None),  # nothing used this month is fine
        ("00012", 99_950, 5, 12, None),  # the dial rolled over 99999 -> 00000
        ("50000", 99_950, 5, 50000, Reason.BELOW_PREVIOUS),  # too far for a roll-over
        ("00012", 80_000, 5, 12, Reason.BELOW_PREVIOUS),  # previous not near the maximum
    ],
)
def test_value_rules(text, previous, digits, value, reason):
    verdict = check(text, previous=previous, digits=digits)
    assert verdict.reason == reason
    if reason is None:
        assert verdict.value == value
        assert verdict.reason is None


def test_roll_over_consumption_counts_past_the_maximum():
    verdict = check("12", previous=99_950, digits=5)
    assert verdict.consumption == 62


@pytest.mark.parametrize(
    ("resource", "previous", "text", "average", "needs_confirmation"),
    [
        (Resource.ELECTRICITY, 11480, "11638", 150, False),  # 158 used, average 150
        (Resource.ELECTRICITY, 10000, "10999", 100, False),  # under the 1000 floor
        (Resource.ELECTRICITY, 10000, "11001", 100, True),  # over floor and 3x average
        (Resource.ELECTRICITY, 10000, "11400", 500, False),  # 1400 < 3 x 500
        (Resource.ELECTRICITY, 10000, "11600", 500, True),  # 1600 > 3 x 500
        (Resource.ELECTRICITY, None, "99999", None, False),  # no previous: nothing to compare
        (Resource.COLD_WATER, 35, "40", 5, False),
        (Resource.COLD_WATER, 35, "66", None, True),  # 31 m3 over the water floor of 30
        (Resource.HOT_WATER, 17, "47", 3, False),  # exactly the floor is not questioned
    ],
)
def test_unusual_consumption_needs_confirmation(
    resource, previous, text, average, needs_confirmation
):
    verdict = check(text, previous=previous, average=average, resource=resource)
    assert verdict.reason is None
    assert verdict.needs_confirmation is needs_confirmation


def test_every_reason_has_a_prompt_id():
    assert {reason.prompt for reason in Reason} == {
        "reason_empty",
        "reason_not_digits",
        "reason_too_many_digits",
        "reason_below_previous",
    }
