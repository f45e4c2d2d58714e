"""Test people: valid ID card numbers (GB 11643 check digit), and registration through the
real dialogue."""

from __future__ import annotations

from stdnum.cn import ric


def id_number(born: str = "19900101", seq: str = "002", region: str = "530324") -> str:
    """A valid 18-character ID number; ``seq`` odd for a man, even for a woman."""
    body = region + born + seq
    return body + ric.calc_check_digit(body + "0")


def wrong_check_digit(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


ANSWERS = {
    "name": "张三",
    "id": id_number(),
    "phone": "13812345678",
    "township": "10",  # 罗雄街道, the 10th in the list (14: the household is elsewhere)
    "household_elsewhere": "贵州省盘州市",  # asked only after township 14
    "household_kind": "1",  # rural (2 urban, 3 not sure)
    "residence": "0",  # the same as the household
    "intent": "1",
    "job_place": "0",  # the same as the residence
    "groups": "1 3",
    "pension": "1",
    "consent": "1",
}
OUTSIDE = "14"  # the answer after the 13 townships: not in 罗平县


def answer_keys(answers: dict[str, str]) -> list[str]:
    """The questions of the registration dialogue, in order, for these answers."""
    where = ["township", "household_elsewhere"] if answers["township"] == OUTSIDE else ["township"]
    return ["name", "id", "phone", *where, "household_kind", "residence", "intent", "job_place",
            "groups", "pension", "consent"]


def registration_lines(summary=None, **overrides: str) -> list[tuple[str, object]]:
    """The registration dialogue as transcript lines, from 注册 to the consent, whose reply is
    the summary (which must contain ``summary``), answered with ANSWERS and ``overrides``."""
    answers = {**ANSWERS, **overrides}
    *asked, consent = [(answers[key], None) for key in answer_keys(answers)]
    return [("注册", None), *asked, (consent[0], summary)]


def register_via_chat(wechat, openid: str, **overrides: str) -> str:
    """Go through the whole dialogue and confirm the summary; return the last reply's text."""
    return wechat.transcript(openid, [*registration_lines(**overrides), ("1", None)])[-1].text


def bind_staff_via_chat(wechat, services, clock, openid: str, institution_code: str) -> None:
    """The bureau invites; the staff member scans the invitation's QR code."""
    from models.staff import invite_staff

    with services.sessions.begin() as db:
        token = invite_staff(db, institution_code=institution_code, now=clock.now())
    answer = wechat.send(wechat.event(openid, "SCAN", EventKey=f"staff:{token}"))
    assert "工作人员" in answer.text, answer.text
