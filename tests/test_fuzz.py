"""A short run of the fuzz harness (bench/fuzz_target.py) with Hypothesis: signed
callbacks in plain and safe mode, and API requests with JSON bodies, through the real app.
`make fuzz` runs the long, coverage-guided version (atheris, 100,000 inputs)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz_target import DrawSource, Harness

# Each door gets this many inputs: a fixed number, derandomized, so the run is the same on a
# loaded machine as on a quiet one (a time box made it flaky under load).
EXAMPLES = 150

FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                phases=["generate"], suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    made = Harness(tmp_path_factory.mktemp("fuzz"))
    yield made
    made.close()


def no_failure(harness: Harness, outcome) -> None:
    assert outcome.status < 500, outcome
    assert not outcome.problem, outcome.problem
    assert not harness.tracebacks, harness.tracebacks[0]


def test_fuzzed_callbacks_get_no_5xx_and_log_no_traceback(harness):
    @FUZZ
    @given(st.data())
    def one(data):
        no_failure(harness, harness.callback(DrawSource(data)))

    one()


def test_fuzzed_api_requests_get_no_5xx_and_log_no_traceback(harness):
    @FUZZ
    @given(st.data())
    def one(data):
        harness.limiter_storage.reset()  # what stands behind the rate limits is fuzzed
        no_failure(harness, harness.api(DrawSource(data)))

    one()
