"""`make run` opens the desk at once: the demo has a user for each role (never in production)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from models.demo import DEMO_DESK_PASSWORD
from models.desk import DeskRole, DeskUser
from tests.desk_fixtures import sign_in
from webhooks.cli import load_demo_data


def test_the_demo_admin_signs_in_to_the_dashboard(services, client, db):
    load_demo_data(services, only_if_empty=False)
    roles = dict(db.execute(select(DeskUser.username, DeskUser.role)).all())
    assert roles["demo-admin"] is DeskRole.ADMIN
    assert roles["demo-zhongzhi"] is DeskRole.INSTITUTION
    sign_in(client, "demo-admin", DEMO_DESK_PASSWORD)
    page = client.get("/admin/dashboard")
    assert page.status_code == 200 and "<svg" in page.get_data(as_text=True)


def test_production_gets_no_demo_desk_users(services, db):
    production = replace(services, config=replace(services.config, env="production"))
    load_demo_data(production, only_if_empty=False)
    assert db.scalar(select(DeskUser).where(DeskUser.username == "demo-admin")) is None
