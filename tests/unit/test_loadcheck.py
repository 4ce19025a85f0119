"""The outage figures of tests/loadcheck.py, on a recorded load, and their round trip through JSON."""

from loadcheck import LoadResult, Outcome


def recorded() -> LoadResult:
    outcomes = [Outcome(0.0, 0.1, True), Outcome(1.0, 1.1, True), Outcome(2.0, 4.0, False, "TimeoutError")]
    outcomes += [Outcome(3.0, 3.5, False, "ConnectionRefusedError"), Outcome(5.0, 5.1, True)]
    return LoadResult(outcomes=outcomes, duration=6.0)


def test_window_failures_and_silence() -> None:
    result = recorded()
    assert result.window() == (2.0, 4.0)
    assert len(result.failures_between(2.5)) == 1
    assert result.succeeded_after(4.0) == 1
    assert round(result.longest_silence(), 6) == 4.0  # from 1.1 to 5.1
    assert result.errors() == {"TimeoutError": 1, "ConnectionRefusedError": 1}


def test_json_round_trip_keeps_every_outcome_and_the_start() -> None:
    back, started = LoadResult.from_json(recorded().to_json(1700000000.5))
    assert started == 1700000000.5
    assert back.outcomes == recorded().outcomes
    assert back.duration == 6.0
