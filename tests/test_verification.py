"""The bureau verifies a declared group: the provisional answer becomes final, the person is
told, and nothing about them is printed unmasked."""

from __future__ import annotations

import re

from sqlalchemy import select

from models.audit import AuditEntry
from models.outbox import Outbox
from models.persons import GroupStatus, Person
from tests.factories import ANSWERS, register_via_chat


def _group_status(db, openid: str) -> GroupStatus:
    db.expire_all()
    person = db.scalar(select(Person).where(Person.openid == openid))
    return next(g.status for g in person.groups if g.group.value == "poverty_alleviated")


def test_verifying_a_group_makes_the_answer_final_and_tells_the_person(wechat, runner, db,
                                                                       client):
    register_via_chat(wechat, "o-ver1")
    result = runner.invoke(args=["groups", "verify", "--id-number", ANSWERS["id"], "--group",
                                 "poverty_alleviated", "--document", "扶贫手册 No.12"])
    assert result.exit_code == 0, result.output
    assert ANSWERS["id"] not in result.output and "**********" in result.output
    assert _group_status(db, "o-ver1") is GroupStatus.VERIFIED
    notice = db.scalar(select(Outbox).where(Outbox.openid == "o-ver1"))
    assert notice.notice == "group_verified"
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "group.decide"))
    assert entry.after["document"] == "扶贫手册 No.12"
    answer = wechat.say("o-ver1", "补贴").text
    path = re.search(r"(/p/subsidy/\S+)", answer).group(1)
    assert "经核实，您属于脱贫劳动力" in client.get(path).get_data(as_text=True)


def test_rejecting_a_group(wechat, runner, db):
    register_via_chat(wechat, "o-ver2")
    result = runner.invoke(args=["groups", "verify", "--id-number", ANSWERS["id"], "--group",
                                 "poverty_alleviated", "--document", "无证明", "--reject"])
    assert result.exit_code == 0, result.output
    assert _group_status(db, "o-ver2") is GroupStatus.REJECTED
    assert db.scalar(select(Outbox.notice).where(Outbox.openid == "o-ver2")) == "group_rejected"


def test_an_unknown_id_number_changes_nothing(runner, db):
    result = runner.invoke(args=["groups", "verify", "--id-number", "11010519491231002X",
                                 "--group", "veteran", "--document", "退役证"])
    assert result.exit_code == 1
    assert "11010519491231002X" not in result.output
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "group.decide")) is None
