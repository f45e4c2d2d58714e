"""Village cadres: invitation, referral code, attribution, registering a neighbour, figures."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from models.cadres import Cadre, invite_cadre
from models.persons import ConsentHow, Person
from tests.people import ANSWERS, id_number, register_via_chat


@pytest.fixture
def invite(services, clock):
    def make(village: str = "腊者村", township: str = "lubuge") -> str:
        with services.sessions.begin() as db:
            return invite_cadre(db, township_code=township, village=village, now=clock.now())
    return make


@pytest.fixture
def cadre(wechat, invite):
    """demo-cadre, bound to 腊者村 by scanning an invitation."""
    wechat.follow("demo-cadre")
    answer = wechat.send(wechat.event("demo-cadre", "SCAN", EventKey=f"cadre:{invite()}"))
    assert "腊者村的村干部" in answer.text
    return "demo-cadre"


def cadre_row(db, openid: str) -> Cadre:
    db.expire_all()
    person = db.scalar(select(Person).where(Person.openid == openid))
    return db.scalar(select(Cadre).where(Cadre.person_id == person.id))


def test_the_invite_command_prints_a_qr_for_a_one_time_scene(runner, fake_wechat, tmp_path):
    result = runner.invoke(args=["cadres", "invite", "--township", "lubuge", "--village",
                                 "腊者村", "--svg", str(tmp_path / "invite.svg")])
    assert result.exit_code == 0, result.output
    scene = re.search(r"scene (cadre:\S+)", result.output).group(1)
    [request] = fake_wechat.state.qrcodes
    assert request["action_name"] == "QR_STR_SCENE"
    assert request["action_info"]["scene"]["scene_str"] == scene
    assert "█" in result.output
    assert (tmp_path / "invite.svg").read_text().startswith("<svg")


def test_following_through_an_invitation_binds_the_cadre(wechat, invite, db):
    answer = wechat.follow("o-k1", scene=f"cadre:{invite('新寨村')}")
    assert "新寨村的村干部" in answer.text
    assert cadre_row(db, "o-k1").village == "新寨村"


def test_an_invitation_works_once(wechat, invite):
    token = invite()
    wechat.send(wechat.event("o-k2", "SCAN", EventKey=f"cadre:{token}"))
    answer = wechat.send(wechat.event("o-k3", "SCAN", EventKey=f"cadre:{token}"))
    assert "这个码无效" in answer.text


def test_a_foreign_or_expired_invitation_is_refused(wechat, invite, clock, db):
    assert "这个码无效" in wechat.send(
        wechat.event("o-k4", "SCAN", EventKey="cadre:not-a-real-token")).text
    token = invite()
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
                                                                          invite):
    first = cadre_row(db, cadre)
    wechat.follow("o-k6", scene=f"ref:{first.id}")
    other = "o-k7"
    wechat.send(wechat.event(other, "SCAN", EventKey=f"cadre:{invite('新寨村')}"))
    second = cadre_row(db, other)
    wechat.send(wechat.event("o-k6", "SCAN", EventKey=f"ref:{second.id}"))
    db.expire_all()
    person = db.scalar(select(Person).where(Person.openid == "o-k6"))
    assert person.referred_by_id == first.id


def test_a_cadre_registers_a_neighbour_who_later_binds_their_own_wechat(wechat, cadre, db,
                                                                        person_named):
    wechat.click(cadre, "CADRE")
    assert "代邻居填写" in wechat.say(cadre, "2").text
    neighbour_id = id_number(born="19560101", seq="013")
    for answer in ("王奶奶", neighbour_id, "13912340000", "鲁布革", "1", "0", "1", "0", "0",
                   "1"):
        last = wechat.say(cadre, answer)
    assert "纸质" in last.text
    wechat.say(cadre, "1")
    done = wechat.say(cadre, "1")
    code = re.search(r"绑定码：(\d{6})", done.text).group(1)
    db.expire_all()
    neighbour = db.scalar(select(Person).where(Person.name == "王奶奶"))
    assert neighbour.openid is None and neighbour.consent_how is ConsentHow.PAPER
    assert neighbour.referred_by_id == cadre_row(db, cadre).id
    # The neighbour follows the account with their own phone and binds the record.
    wechat.follow("o-k8")
    assert "王奶奶" in wechat.say("o-k8", f"绑定 {code}").text
    assert person_named("o-k8").name == "王奶奶"
    # The code works once.
    assert "这个码无效" in wechat.say("o-k9", f"绑定 {code}").text


def test_a_wrong_binding_code_is_refused(wechat):
    assert "这个码无效" in wechat.say("o-k10", "绑定 000000").text


def test_the_neighbours_id_cannot_be_registered_by_someone_else(wechat, cadre):
    wechat.click(cadre, "CADRE")
    wechat.say(cadre, "2")
    number = id_number(born="19600202", seq="021")
    for answer in ("李爷爷", number, "13912340001", "1", "1", "0", "1", "0", "0", "1", "1",
                   "1"):
        wechat.say(cadre, answer)
    wechat.say("o-k11", "注册")
    wechat.say("o-k11", "李爷爷")
    answer = wechat.say("o-k11", number)
    assert "村干部已经帮您登记过" in answer.text and "绑定" in answer.text


def test_the_cadre_sees_only_their_own_figures(wechat, cadre, db, invite):
    mine = cadre_row(db, cadre)
    wechat.follow("o-k12", scene=f"ref:{mine.id}")
    register_via_chat(wechat, "o-k12", id=id_number(seq="031"))
    wechat.follow("o-k13", scene=f"ref:{mine.id}")
    wechat.send(wechat.event("o-k14", "SCAN", EventKey=f"cadre:{invite('新寨村')}"))
    theirs = cadre_row(db, "o-k14")
    wechat.follow("o-k15", scene=f"ref:{theirs.id}")
    wechat.click(cadre, "CADRE")
    figures = wechat.say(cadre, "3").text
    assert "您动员的人数：2人" in figures and "其中已登记：1人" in figures
    assert ANSWERS["name"] not in figures  # counts only, no names


def test_binding_codes_cannot_be_guessed_for_long(wechat):
    for n in range(5):
        assert "这个码无效" in wechat.say("o-k20", f"绑定 {n:06d}").text
    assert "输错的次数太多" in wechat.say("o-k20", "绑定 123456").text


def test_the_cadres_figures_follow_their_peoples_training(wechat, cadre, db, services, clock):
    from tests.people import bind_staff_via_chat

    mine = cadre_row(db, cadre)
    wechat.follow("o-k30", scene=f"ref:{mine.id}")
    register_via_chat(wechat, "o-k30", id=id_number(seq="061"))
    wechat.say("o-k30", "课程 砌筑")
    wechat.say("o-k30", "1")
    wechat.say("o-k30", "领券")
    from models.vouchers import Voucher

    db.expire_all()
    person = db.scalar(select(Person).where(Person.openid == "o-k30"))
    voucher = db.scalar(select(Voucher).where(Voucher.person_id == person.id))
    bind_staff_via_chat(wechat, services, clock, "o-k30-staff", "lp-pes")
    wechat.scan("o-k30-staff", "REDEEM",
                services.voucher_codes.show(voucher.id, clock.now()).code)
    wechat.click(cadre, "CADRE")
    figures = wechat.say(cadre, "3").text
    assert "培训中：1" in figures and "砌筑工（初级）培训班：培训中1" in figures
