"""The benchmarks' people: trainees registered through the domain, each with a valid ID number
of their own (born on one of 15,000 days from 1960, the sequence number after), all in 罗雄街道;
and the desk's administrator, signed in as a person would."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine
from stdnum.cn import ric

from models.audit import Channel
from models.base import make_sessionmaker
from models.catalogue import Intent as WorkIntent
from models.desk import DeskRole, DeskUser, create_desk_user
from models.persons import ConsentHow, meet
from models.registration import RegistrationForm, register


def register_bench_person(db, *, vault, openid: str, n: int, now: datetime) -> None:
    """Person ``n`` met and registered as ``openid``, consent given through WeChat."""
    born = datetime(1960, 1, 1) + timedelta(days=n % 15000)
    body = f"530324{born:%Y%m%d}{n // 15000 % 1000:03d}"
    meet(db, openid=openid, now=now)
    register(db, vault=vault, openid=openid, consent=ConsentHow.WECHAT,
             channel=Channel.CLI, now=now, today=now.date(),
             form=RegistrationForm(name="压测",
                                   id_number=body + ric.calc_check_digit(body + "0"),
                                   phone="13800000000", township_code="luoxiong",
                                   intent=WorkIntent.LOCAL))


DESK_ADMIN, DESK_PASSWORD = "bench.admin", "bench password"


def desk_admin_client(app, engine: Engine, *, now: datetime):
    """A test client of ``app`` signed in to the desk as its administrator (made on first
    need), through the sign-in form."""
    with make_sessionmaker(engine).begin() as db:
        if db.scalar(select(DeskUser.id).where(DeskUser.username == DESK_ADMIN)) is None:
            create_desk_user(db, username=DESK_ADMIN, password=DESK_PASSWORD,
                             role=DeskRole.ADMIN, now=now)
    client = app.test_client()
    form = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    signed = client.post("/admin/login", data={"username": DESK_ADMIN,
                                               "password": DESK_PASSWORD,
                                               "csrf_token": token})
    assert signed.status_code == 302, signed.status_code
    return client
