"""`make run` opens the desk at once: the demo server has a user for each role; `flask demo
load` and production never get them."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from devtools.devserver import demo_desk
from models.demo import DEMO_DESK_PASSWORD
from models.desk import DeskRole, DeskUser
from tests.desk_fixtures import sign_in


def desk_roles(db) -> dict[str, DeskRole]:
    return dict(db.execute(select(DeskUser.username, DeskUser.role)).all())


def test_the_demo_admin_signs_in_to_the_dashboard(services, client, db):
    assert demo_desk(services)
    roles = desk_roles(db)
    assert roles["demo-admin"] is DeskRole.ADMIN
    assert roles["demo-zhongzhi"] is DeskRole.INSTITUTION
    sign_in(client, "demo-admin", DEMO_DESK_PASSWORD)
    page = client.get("/admin/dashboard")
    assert page.status_code == 200 and "<svg" in page.get_data(as_text=True)


def test_the_demo_load_command_makes_no_desk_users(runner, db):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    assert "demo-admin" not in desk_roles(db)


def test_production_gets_no_demo_desk_users(services, db):
    production = replace(services, config=replace(services.config, env="production"))
    assert not demo_desk(production)
    assert "demo-admin" not in desk_roles(db)
