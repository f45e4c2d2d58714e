"""Schemathesis against the API's own OpenAPI document, in process (WSGI): for every operation
a few generated requests, signed in as the role the operation is for; no answer may be a 5xx
and every answer must match the document (status, content type, body schema).

Schemathesis's pytest plugin (``from_fixture``) does not run on pytest 9, so the operations are
walked here with hypothesis directly; the generation and the checks are schemathesis's own."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# A few examples per operation keep `make test` quick; the suite runs on both stacks.
EXAMPLES = 4


@pytest.fixture
def tokens(sign_in) -> dict[str, str]:
    return {user: sign_in(f"demo-{user}")["access_token"]
            for user in ("trainee", "staff", "cadre")}


def _role(path: str) -> str:
    for role in ("staff", "cadre"):
        if path.startswith(f"/api/v1/{role}"):
            return role
    return "trainee"


def test_every_operation_answers_as_documented(app, tokens):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25

    for operation in operations:
        try:
            _explore(operation, {"Authorization": f"Bearer {tokens[_role(operation.path)]}"})
        except BaseException as error:
            error.add_note(f"operation: {operation.label}")
            raise


def _explore(operation, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def answers_as_documented(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    answers_as_documented()
