"""Village cadres: invitation, referral code, attribution, registering a neighbour, figures."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from models.cadres import Cadre
from models.persons import ConsentHow, Person
from tests.factories import (
    ANSWERS,
    bind_staff_via_chat,
    claim_lines,
    id_number,
    invitation_by_command,
    register_via_chat,
)
from tests.wechat_server import absent


def cadre_row(db, openid: str) -> Cadre:
    db.expire_all()
    person = db.scalar(select(Person).where(Person.openid == openid))
    return db.scalar(select(Cadre).where(Cadre.person_id == person.id))


def test_the_invite_command_prints_a_qr_for_a_one_time_scene(runner, fake_wechat, tmp_path):
    scene, output, _ = invitation_by_command(runner, fake_wechat, tmp_path / "invite.svg",
                                             "cadres", "invite", "--township", "lubuge",
                                             "--village", "腊者村")
    assert scene.startswith("cadre:") and f"scene {scene}" in output


def test_following_through_an_invitation_binds_the_cadre(wechat, cadre_invitation, db):
    answer = wechat.follow("o-k1", scene=f"cadre:{cadre_invitation('新寨村')}")
    assert "新寨村的村干部" in answer.text
    assert cadre_row(db, "o-k1").village == "新寨村"


def test_an_invitation_works_once(wechat, cadre_invitation):
    token = cadre_invitation()
    wechat.send(wechat.event("o-k2", "SCAN", EventKey=f"cadre:{token}"))
    answer = wechat.send(wechat.event("o-k3", "SCAN", EventKey=f"cadre:{token}"))
    assert "这个码无效" in answer.text


def test_a_foreign_or_expired_invitation_is_refused(wechat, cadre_invitation, clock, db):
    assert "这个码无效" in wechat.send(
        wechat.event("o-k4", "SCAN", EventKey="cadre:not-a-real-token")).text
    token = cadre_invitation()
    clock.advance(days=15)
    assert "这个码无效" in wechat.send(wechat.event("o-k4", "SCAN",
                                                     EventKey=f"cadre:{token}")).text
    assert cadre_row(db, "o-k4") is None


@pytest.mark.parametrize("ask", ["CADRE", "代报名"])
def test_someone_who_is_not_a_cadre_is_refused_cadre_functions(wechat, ask):
    answer = wechat.click("o-k5", ask) if ask.isupper() else wechat.say("o-k5", ask)
    assert "这个功能是给村干部用的" in answer.text


def test_the_cadre_menu_and_referral_page(wechat, cadre, client, fake_wechat, db):
    assert "1. 我的推荐二维码" in wechat.click(cadre, "CADRE").text
    answer = wechat.say(cadre, "1")
    url = re.search(r"http://peixun\.test(/p/cadre-qr/\S+)", answer.text).group(1)
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" in html and "腊者村村干部推荐" in html
    cadre_id = cadre_row(db, cadre).id
    [request] = fake_wechat.state.qrcodes
    assert request["action_name"] == "QR_LIMIT_STR_SCENE"
    assert request["action_info"]["scene"]["scene_str"] == f"ref:{cadre_id}"
    client.get(url)  # a second view asks WeChat for nothing
    assert len(fake_wechat.state.qrcodes) == 1


def test_a_tampered_referral_link_is_refused(client, wechat, cadre):
    wechat.click(cadre, "CADRE")
    url = re.search(r"(/p/cadre-qr/\S+)", wechat.say(cadre, "1").text).group(1)
    assert client.get(url[:-2] + "xx").status_code == 403


def test_following_through_a_referral_is_attributed_once_first_cadre_wins(wechat, cadre, db,
                                                                          cadre_invitation):
    first = cadre_row(db, cadre)
    wechat.follow("o-k6", scene=f"ref:{first.id}")
    other = "o-k7"
    wechat.send(wechat.event(other, "SCAN", EventKey=f"cadre:{cadre_invitation('新寨村')}"))
    second = cadre_row(db, other)
    wechat.send(wechat.event("o-k6", "SCAN", EventKey=f"ref:{second.id}"))
    db.expire_all()
    person = db.scalar(select(Person).where(Person.openid == "o-k6"))
    assert person.referred_by_id == first.id


def test_a_cadre_registers_a_neighbour_who_later_binds_their_own_wechat(wechat, talk, cadre,
                                                                        db, person_named):
    wechat.click(cadre, "CADRE")
    neighbour_id = id_number(born="19560101", seq="013")
    *_, done = talk(cadre, [
        ("2", "代邻居填写"),
        *[(answer, None) for answer in ("王奶奶", neighbour_id, "13912340000", "鲁布革", "1",
                                        "0", "1", "0", "0")],
        ("1", "纸质"), ("1", None), ("1", "绑定码"),
    ])
    code = re.search(r"绑定码：(\d{6})", done.text).group(1)
    db.expire_all()
    neighbour = db.scalar(select(Person).where(Person.name == "王奶奶"))
    assert neighbour.openid is None and neighbour.consent_how is ConsentHow.PAPER
    assert neighbour.referred_by_id == cadre_row(db, cadre).id
    # The neighbour follows the account with their own phone and binds the record.
    wechat.follow("o-k8")
    talk("o-k8", [(f"绑定 {code}", "王奶奶")])
    assert person_named("o-k8").name == "王奶奶"
    # The code works once.
    talk("o-k9", [(f"绑定 {code}", "这个码无效")])


def test_a_wrong_binding_code_is_refused(talk):
    talk("o-k10", [("绑定 000000", "这个码无效")])


def test_the_neighbours_id_cannot_be_registered_by_someone_else(wechat, talk, cadre):
    wechat.click(cadre, "CADRE")
    number = id_number(born="19600202", seq="021")
    talk(cadre, [(answer, None) for answer in ("2", "李爷爷", number, "13912340001", "1", "1",
                                               "0", "1", "0", "0", "1", "1", "1")])
    talk("o-k11", [("注册", None), ("李爷爷", None),
                   (number, ["村干部已经帮您登记过", "绑定"])])


def test_the_cadre_sees_only_their_own_figures(wechat, talk, cadre, db, cadre_invitation):
    mine = cadre_row(db, cadre)
    wechat.follow("o-k12", scene=f"ref:{mine.id}")
    register_via_chat(wechat, "o-k12", id=id_number(seq="031"))
    wechat.follow("o-k13", scene=f"ref:{mine.id}")
    wechat.send(wechat.event("o-k14", "SCAN", EventKey=f"cadre:{cadre_invitation('新寨村')}"))
    theirs = cadre_row(db, "o-k14")
    wechat.follow("o-k15", scene=f"ref:{theirs.id}")
    wechat.click(cadre, "CADRE")
    talk(cadre, [("3", ["您动员的人数：2人", "其中已登记：1人",
                        absent(ANSWERS["name"])])])  # counts only, no names


def test_binding_codes_cannot_be_guessed_for_long(talk):
    talk("o-k20", [*[(f"绑定 {n:06d}", "这个码无效") for n in range(5)],
                   ("绑定 123456", "输错的次数太多")])


def test_the_cadres_figures_follow_their_peoples_training(wechat, talk, cadre, db, services,
                                                          clock):
    mine = cadre_row(db, cadre)
    wechat.follow("o-k30", scene=f"ref:{mine.id}")
    register_via_chat(wechat, "o-k30", id=id_number(seq="061"))
    talk("o-k30", claim_lines())
    from models.vouchers import Voucher

    db.expire_all()
    person = db.scalar(select(Person).where(Person.openid == "o-k30"))
    voucher = db.scalar(select(Voucher).where(Voucher.person_id == person.id))
    bind_staff_via_chat(wechat, services, clock, "o-k30-staff", "lp-pes")
    wechat.scan("o-k30-staff", "REDEEM",
                services.voucher_codes.show(voucher.id, clock.now()).code)
    wechat.click(cadre, "CADRE")
    talk(cadre, [("3", ["培训中：1", "砌筑工（初级）培训班：培训中1"])])
