"""What the bureau and the operator set up: schema, demo county, menu, catalogues."""

from __future__ import annotations

import json
import re
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from babel.messages.pofile import read_po
from sqlalchemy import func, select

import models
from bot.intents import MENU_KEYS
from models.audit import AuditEntry, Channel
from models.catalogue import Category, CertificateKind, ClassSession, Course, Institution
from models.courses import CourseSpec, check_course_rules, publish_course
from models.demo import load_demo
from models.errors import CourseRuleBroken
from models.regions import Region, RegionLevel
from models.targets import Target, TargetMeasure

LOCALES = Path(__file__).resolve().parent.parent / "locales"


def test_migrations_build_exactly_the_schema_the_models_describe(stack):
    with stack.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), models.metadata)
    assert diff == []


def test_the_demo_county_has_its_13_townships_and_12_categories(db):
    luoping = db.scalar(select(Region).where(Region.code == "luoping"))
    townships = db.scalars(select(Region).where(Region.parent_id == luoping.id)).all()
    assert len(townships) == 13
    assert {t.level for t in townships} == {RegionLevel.TOWNSHIP}
    assert "罗雄街道" in {t.name for t in townships}
    assert db.scalar(select(func.count(Category.id))) == 12


def test_demo_targets_add_up_to_the_plans_totals(db):
    def total(region: str, year: int | None = None, *, township_measure=None) -> int:
        query = select(func.sum(Target.count)).join(Region, Region.id == Target.region_id)
        if township_measure is None:
            query = query.where(Region.code == region, Target.category_id.is_not(None))
        else:
            query = query.where(Region.level == RegionLevel.TOWNSHIP,
                                Target.measure == township_measure)
        if year:
            query = query.where(Target.year == year)
        return db.scalar(query)

    # QJ2020 附件 and LP2021 附件1: by category
    assert total("qujing") == 100_000 and total("luoping") == 10_000
    assert [total("luoping", y) for y in (2020, 2021, 2022)] == [3500, 3500, 3000]
    # LP2021 附件2: by township, split by certificate kind
    assert total("", township_measure=TargetMeasure.TRAININGS) == 10_000
    assert total("", 2021, township_measure=TargetMeasure.QUALIFICATION) == 2310
    assert total("", 2020, township_measure=TargetMeasure.SPECIAL) == 1050


def test_demo_courses_keep_the_yn2021_limits(db):
    courses = db.scalars(select(Course)).all()
    assert len(courses) >= 12
    kinds = {c.institution.kind for c in courses}
    assert len(kinds) >= 3
    for course in courses:
        scheduled = sum(s.hours for s in course.sessions)
        assert scheduled == course.hours, course.code
        if course.certificate_kind in (CertificateKind.QUALIFICATION,
                                       CertificateKind.SKILL_LEVEL):
            assert course.hours >= 120, course.code
        assert course.capacity <= (35 if course.is_entrepreneurship else 60), course.code


def test_a_demo_course_has_a_session_today(db, clock):
    today = db.scalars(select(ClassSession).where(ClassSession.day == clock.today())).all()
    assert today, "the check-in demo needs a class running on the day the demo is loaded"


def test_loading_the_demo_twice_changes_nothing(db, sessions, clock, services):
    def counts():
        return [db.scalar(select(func.count()).select_from(t)) for t in
                (Region, Category, Target, Institution, Course, ClassSession, AuditEntry)]

    before = counts()
    with sessions.begin() as again:
        load_demo(again, vault=services.vault, now=clock.now(), today=clock.today())
    assert counts() == before


def test_the_demo_load_command(runner):
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0
    assert "not loaded" in result.output  # the test database has the demo already


def test_the_menu_is_created_from_the_project_file(runner, fake_wechat):
    result = runner.invoke(args=["menu", "create"])
    assert result.exit_code == 0, result.output
    [menu] = fake_wechat.state.menus
    buttons = [b for top in menu["button"] for b in top.get("sub_button", [top])]
    assert sorted(b["key"] for b in buttons) == sorted(MENU_KEYS)
    by_key = {b["key"]: b["type"] for b in buttons}
    assert by_key["CHECKIN"] == by_key["REDEEM"] == "scancode_waitmsg"
    assert len(menu["button"]) <= 3 and all(len(t["sub_button"]) <= 5 for t in menu["button"])


def _spec(**changes) -> CourseSpec:
    from datetime import date
    day = date(2026, 12, 1)
    base = dict(
        code="rule-test", institution_code="lp-pes", category_code="construction",
        name="规则测试班", name_en="Rule test", occupation="砌筑工", occupation_en="Bricklayer",
        certificate_kind=CertificateKind.SKILL_LEVEL, certificate_level="初级工",
        theory_hours=36, practice_hours=84, capacity=50, fee_yuan=Decimal(0),
        is_entrepreneurship=False, township_code="luoxiong", address="某地", lat=None, lng=None,
        radius_m=None,
        sessions=[(day + timedelta(days=n), start, end) for n in range(15)
                  for start, end in ((time(8, 30), time(12, 30)), (time(14), time(18)))],
    )
    return CourseSpec(**{**base, **changes})


def test_a_course_within_the_limits_passes():
    check_course_rules(_spec())


@pytest.mark.parametrize(("changes", "rule"), [
    # YN2021 二(七): 120 hours for a qualification or skill-level certificate
    (dict(theory_hours=30, practice_hours=70, sessions=_spec().sessions[:25]), "min_hours"),
    # at most 60 a class …
    (dict(capacity=61), "capacity"),
    # … and 35 for entrepreneurship training
    (dict(capacity=36, is_entrepreneurship=True), "capacity"),
    # at most 8 hours a day
    (dict(sessions=[*_spec().sessions[:-1], (_spec().sessions[-1][0], time(14), time(19))]),
     "hours_a_day"),
    # the timetable must carry the hours announced
    (dict(theory_hours=40), "sessions_hours"),
])
def test_a_course_breaking_a_limit_is_refused_naming_the_rule(changes, rule):
    with pytest.raises(CourseRuleBroken) as error:
        check_course_rules(_spec(**changes))
    assert error.value.data["rule"] == rule


def test_a_short_course_for_a_special_ability_certificate_is_allowed():
    check_course_rules(_spec(certificate_kind=CertificateKind.SPECIAL_ABILITY,
                             certificate_level=None, theory_hours=12, practice_hours=28,
                             sessions=_spec().sessions[:10]))


def test_publishing_writes_the_audit_record(db, clock):
    with db.begin():
        course = publish_course(db, spec=_spec(), actor_id=None, channel=Channel.CLI,
                                now=clock.now())
    entry = db.scalar(select(AuditEntry).where(AuditEntry.target_id == course.id,
                                               AuditEntry.target_type == "courses"))
    assert entry.action == "course.publish" and entry.after["hours"] == 120


def _strings(message) -> tuple:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _catalogue(locale: str):
    with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f)


def test_every_message_has_its_chinese_translation():
    with (LOCALES / "messages.pot").open("rb") as f:
        template = read_po(f)
    zh = _catalogue("zh_Hans_CN")
    missing = [m.id for m in template
               if m.id and not (zh.get(m.id) and any(_strings(zh.get(m.id))))]
    assert missing == []
    assert not [m.id for m in zh if m.id and m.fuzzy]


def test_translations_keep_every_placeholder():
    for message in _catalogue("zh_Hans_CN"):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in filter(None, strings):
            names = re.findall(r"%\((\w+)\)s", ids[0])
            assert sorted(names) == sorted(re.findall(r"%\((\w+)\)s", string)), ids[0]


def test_the_menu_file_is_valid_json_with_chinese_labels():
    menu = json.loads((Path(__file__).resolve().parent.parent / "bot" / "menu.json").read_text())
    assert all(re.search(r"[\u4e00-\u9fff]", top["name"]) for top in menu["button"])
