"""One of two FastAGI servers killed in the middle of real calls: two private Asterisks with
system names of their own, each preferring its own server and then the other, one
PostgreSQL, SIPp calls (tests/failover.py).

SIGKILL takes the first server once it has stored a reading, while others of its calls are
in progress. Each of those ends with the dialplan's apology and the operator (one killed
during its goodbye, its readings stored, hears them accepted from the dialplan); every other
call, those placed after the kill included, is accepted by the second server; every accepted
reading is stored exactly once, and no reading twice.

Needs root, Asterisk and SIPp (as tests/test_real_calls.py), and IVR_TEST_POSTGRES_URL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from agi.storage.repository import Repository
from tests.conftest import POSTGRES_URL, _fresh_postgres
from tests.failover import (
    LEFT_AFTER_STORING,
    NO_OUTCOME,
    SYSTEM_NAMES,
    FailoverLine,
    failover_line,
)
from tests.support import demo_database
from tests.test_real_calls import MISSING, REQUIRED

pytestmark = [
    pytest.mark.telephony,
    pytest.mark.postgres,
    pytest.mark.skipif(bool(MISSING) and not REQUIRED, reason=f"needs {', '.join(MISSING)}"),
    pytest.mark.skipif(not POSTGRES_URL, reason="IVR_TEST_POSTGRES_URL is not set"),
]

BEFORE_THE_KILL = 16
AFTER_THE_KILL = 8


@pytest.fixture
def line(tmp_path: Path) -> Iterator[FailoverLine]:
    if MISSING:
        pytest.fail(f"IVR_REQUIRE_TELEPHONY is set but this machine lacks {', '.join(MISSING)}")
    assert POSTGRES_URL
    _fresh_postgres(POSTGRES_URL).dispose()
    repository: Repository = demo_database(POSTGRES_URL)
    try:
        with failover_line(tmp_path, repository, POSTGRES_URL) as line:
            yield line
    finally:
        repository.engine.dispose()


def test_a_server_killed_mid_call_loses_no_reading_and_leaves_no_caller_in_silence(
    line: FailoverLine,
) -> None:
    first, second = (server.url for server in line.servers)
    calls = line.run(BEFORE_THE_KILL, AFTER_THE_KILL, spread=8)

    for call in calls:
        assert call.sipp_succeeded, call.sipp_output
        assert call.outcome is not None, f"call {call.number} logged no end:\n{call.log}"
        assert call.accepted or (call.transfer, call.apologised) == ("operator", True), call.log
        if LEFT_AFTER_STORING in call.log:  # killed during its goodbye
            assert call.accepted and call.thanked_by_the_dialplan, call.log

    stored = line.stored()
    values = Counter(row.value for row in stored)
    assert [value for value, count in values.items() if count > 1] == []
    for call in calls:
        if call.accepted:
            (row,) = [row for row in stored if row.value == call.value]
            assert row.system == call.asterisk
    assert {row.system for row in stored} == set(SYSTEM_NAMES)

    # the calls the killed server had: the apology and the operator (or done before)
    interrupted = [call for call in calls if call.by == first and not call.accepted]
    assert interrupted, "the kill came when the first server had no call in progress"
    assert all(not call.after_kill for call in interrupted)
    assert line.killed_at is not None
    for call in interrupted:  # at the end of the command Asterisk was running for it
        apology = call.logged_at(NO_OUTCOME)
        assert apology is not None and apology - line.killed_at < timedelta(seconds=20)
    assert any(call.value in values for call in calls if call.by == first)  # it served
    # the second server took everything else, those placed after the kill included
    assert {call.by for call in calls if call.by != first} == {second}
    after = [call for call in calls if call.after_kill]
    assert [(call.accepted, call.by) for call in after] == [(True, second)] * AFTER_THE_KILL
    assert {call.asterisk for call in after} == set(SYSTEM_NAMES)
    # what the servers did not confirm they did not store twice; what they confirmed, once
    assert len(stored) == len(values)
    assert sum(call.accepted for call in calls) <= len(stored) <= len(calls)
