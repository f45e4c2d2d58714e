"""The request log names each request's route, never its path: page links are bearer tokens
(a voucher card, a class display), and whoever reads the log must not be able to open them."""

from __future__ import annotations

import logging
import sys

import pytest
from sqlalchemy import select

from models import links
from models.attendance import ClassSession
from models.vouchers import Voucher
from runtime import logs
from webhooks.app import create_app


def logged(caplog) -> str:
    """Every record of the request, as a log file would hold it (tracebacks included)."""
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


def request_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "peixun.request"]


def test_a_voucher_card_is_logged_by_its_route(client, config, db, caplog):
    voucher = db.scalars(select(Voucher).order_by(Voucher.id)).first()
    token = links.sign(config.secret_key, "voucher", {"v": voucher.id, "p": voucher.person_id})
    with caplog.at_level(logging.INFO):
        assert client.get(f"/p/voucher/{token}").status_code == 200
        assert client.get(f"/p/voucher/{token}?refresh=5",
                          headers={"Accept": "application/json"}).status_code == 200
    assert request_lines(caplog) == [
        line for line in request_lines(caplog) if line.startswith("GET /p/voucher/<token> 200")]
    assert len(request_lines(caplog)) == 2
    assert token not in logged(caplog)


def test_the_class_display_is_logged_by_its_route(client, config, db, caplog):
    session_id = db.scalars(select(ClassSession.id).order_by(ClassSession.id)).first()
    token = links.sign(config.secret_key, "class-display", {"s": session_id})
    with caplog.at_level(logging.INFO):
        client.get(f"/p/class/{token}")
        client.get(f"/p/class/{token}", headers={"Accept": "application/json"})
    lines = request_lines(caplog)
    assert len(lines) == 2 and all(line.startswith("GET /p/class/<token> ") for line in lines)
    assert token not in logged(caplog)


def test_an_api_path_holding_a_secret_is_logged_by_its_route(client, trainee_api, caplog):
    secret = "sk-live-0123456789abcdef"
    with caplog.at_level(logging.INFO):
        assert trainee_api.get(f"/vouchers/{secret}").status_code == 404
        assert trainee_api.get("/vouchers/12345").status_code == 404
    lines = request_lines(caplog)
    assert lines[0].startswith("GET /api/<path:rest> 404")
    assert lines[1].startswith("GET /api/v1/vouchers/<int(max=2147483647):voucher_id> 404")
    assert secret not in logged(caplog) and "12345" not in logged(caplog)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_path_no_route_matches_is_not_logged(client, caplog, method):
    secret = "tok-4f1c2a9be7d3"
    with caplog.at_level(logging.INFO):
        response = client.open(f"/p/no-such-page/{secret}?openid=o-secret", method=method)
        assert response.status_code in (404, 405)
        assert client.open(f"/wechat/{secret}", method=method).status_code == 404
    lines = request_lines(caplog)
    assert all(line.startswith(f"{method} <no route> 40") for line in lines) and len(lines) == 2
    assert secret not in logged(caplog) and "o-secret" not in logged(caplog)


def test_an_unhandled_error_is_logged_by_its_route(tmp_path, config, kv, clock, caplog):
    # An empty database without tables: opening the card fails in the database.
    broken = create_app(config.but(database_url=f"sqlite:///{tmp_path / 'empty.db'}"),
                        kv=kv, clock=clock)
    token = links.sign(config.secret_key, "voucher", {"v": 1, "p": 1})
    with caplog.at_level(logging.INFO):
        response = broken.test_client().get(f"/p/voucher/{token}")
    assert response.status_code == 500
    errors = [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in errors] == ["unhandled error on GET /p/voucher/<token>"]
    assert request_lines(caplog)[-1].startswith("GET /p/voucher/<token> 500")
    assert token not in logged(caplog)


def test_a_log_line_reads_as_the_standard_formats():
    """The app words each second's time once (runtime.logs): every line is still what the
    standard library's formatter writes, within a second, across seconds and with an
    exception's traceback."""
    standard, ours = logging.Formatter(logs.FORMAT), logs.LineFormatter(logs.FORMAT)
    records = []
    for created in (1_765_000_000.001, 1_765_000_000.999, 1_765_000_001.5, 1_765_000_000.25):
        record = logging.LogRecord("peixun.request", logging.INFO, __file__, 1,
                                   "%s %s %s", ("POST", "/wechat", 200), None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        records.append(record)
    try:
        raise ValueError("课程")
    except ValueError:
        records.append(logging.LogRecord("bot", logging.ERROR, __file__, 1, "failed", (),
                                         sys.exc_info()))
    assert [ours.format(r) for r in records] == [standard.format(r) for r in records]


def test_logging_set_up_before_the_app_is_left_as_it_is():
    """A process that set up its logging itself (here pytest's capture) keeps its records'
    caller, thread and process names: the app only sets logging up where nothing has."""
    assert logging.getLogger().handlers  # pytest's capture
    before = (logging._srcfile, logging.logThreads, logging.logMultiprocessing)
    handlers = list(logging.getLogger().handlers)
    logs.configure()
    assert (logging._srcfile, logging.logThreads, logging.logMultiprocessing) == before
    assert logging.getLogger().handlers == handlers
    assert before[0] is not None
