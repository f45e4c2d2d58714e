"""The course list and a course's details are shared per process for a few seconds, yet a
change to the courses shows in the very next reply (runtime.catalogue_version, issue 19)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import time, timedelta
from decimal import Decimal

from models.audit import Channel
from models.catalogue import CertificateKind
from models.courses import CourseSpec, publish_course
from tests.factories import claim_lines


def _spec(day) -> CourseSpec:
    return CourseSpec(
        code="t-fresh", institution_code="lp-pes", category_code="construction",
        name="刚发布的班", name_en="Just published", occupation="砌筑工",
        occupation_en="Bricklayer", certificate_kind=CertificateKind.COMPLETION,
        certificate_level=None, theory_hours=2, practice_hours=6, capacity=20,
        fee_yuan=Decimal(0), is_entrepreneurship=False, township_code="luoxiong",
        address="某地", lat=None, lng=None, radius_m=None,
        sessions=[(day, time(8), time(12)), (day, time(13), time(17))])


def test_a_course_published_is_in_the_very_next_list(talk, services, clock):
    talk("o-f1", [("课程", "共12个")])
    with services.sessions.begin() as db:
        publish_course(db, spec=_spec(clock.today() + timedelta(days=1)), actor_id=None,
                       channel=Channel.CLI, now=clock.now())
    # The same second, the same process: the shared list was made before the course.
    talk("o-f2", [("课程", "共13个"), ("2", "【刚发布的班】")])


def test_a_seat_taken_shows_in_the_next_list_and_details(talk, trainee):
    # The trainee's first course for 砌筑 (nearest first: their list is their own) ...
    [_, shown] = talk(trainee, [("课程 砌筑", None), ("1", None)])
    name = re.search(r"【(.+?)】", shown.text).group(1)

    def seats() -> tuple[str, str]:
        # ... as a follower finds it by its name (a list shared by everyone).
        listed, details = talk("o-f3", [(f"课程 {name}", "共1个"), ("1", name)])
        return (re.search(r"剩(\d+)个名额", listed.text).group(1),
                re.search(r"名额：剩(\d+)个", details.text).group(1))

    before = seats()
    talk(trainee, claim_lines(then="培训券号"))
    assert seats() == (str(int(before[0]) - 1), str(int(before[1]) - 1))


def test_a_fee_changed_shows_in_a_registered_persons_very_next_cost(talk, trainee, services,
                                                                   clock):
    # The cost in a registered person's details is worked out from the course the process
    # shares; a fee set the same second is in the next answer, not the one before it.
    day = clock.today() + timedelta(days=1)
    with services.sessions.begin() as db:
        publish_course(db, spec=_spec(day), actor_id=None, channel=Channel.CLI, now=clock.now())
    [_, free] = talk(trainee, [("课程 刚发布", None), ("1", "【刚发布的班】")])
    assert "先由您交培训费" not in free.text
    with services.sessions.begin() as db:
        publish_course(db, spec=replace(_spec(day), fee_yuan=Decimal(900)), actor_id=None,
                       channel=Channel.CLI, now=clock.now())
    [_, paid] = talk(trainee, [("课程 刚发布", None), ("1", "【刚发布的班】")])
    assert "先由您交培训费¥900" in paid.text or "先由您交培训费900" in paid.text
