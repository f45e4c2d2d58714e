"""Searching and filtering courses; nearest first when the person's location is known."""

from __future__ import annotations

from tests.factories import register_via_chat


def test_a_search_in_chinese(talk):
    [answer] = talk("o-s1", [("课程 电工", "电工（初级）")])
    assert "共1个" in answer.text


def test_a_search_without_a_space(talk):
    talk("o-s2", [("课程焊工", "焊工（中级）培训班")])


def test_a_search_in_english_finds_the_same_course(talk):
    talk("o-s3", [("English", "Language set"), ("courses welding", "Welder (intermediate)")])


def test_a_search_by_township(talk):
    [answer] = talk("o-s4", [("课程 鲁布革", "布依族刺绣")])
    assert "共1个" in answer.text


def test_a_search_with_no_result_says_what_to_do(talk):
    talk("o-s5", [("课程 宇航员", ["没有找到和“宇航员”有关的课程", "分类"])])


def test_free_courses_only(wechat):
    text = wechat.say("o-s6", "免费课程").text
    assert "共10个" in text and "¥" not in text
    while "下一页" in text:
        text = wechat.say("o-s6", "下一页").text
        assert "¥" not in text


def test_categories_then_one_category(talk):
    talk("o-s7", [("分类", ["培训类别", "1. 农村致富带头人培训", "12. 省外转移就业岗位技能培训"]),
                  ("7", ["砌筑工（初级）培训班", "挖掘机司机", "共2个"])])


def test_recommended_courses_follow_where_the_person_wants_to_work(wechat):
    register_via_chat(wechat, "o-s8", intent="3")  # 省外
    text = wechat.say("o-s8", "推荐").text
    assert "适合您就业意向的课程" in text
    assert "电工（初级）订单式培训班" in text and "砌筑工" not in text


def test_recommendation_before_registering_invites_to_register(talk):
    talk("o-s9", [("推荐", ["登记后", "开放报名的课程"])])


def test_courses_come_nearest_first_after_the_person_shares_a_location(wechat):
    first_by_date = wechat.say("o-s10", "课程").text.split("\n")[1]
    wechat.report_location("o-s10", 24.7612, 104.5118)  # at 鲁布革
    nearest = wechat.say("o-s10", "课程").text.split("\n")[1]
    assert nearest != first_by_date
    assert "布依族刺绣" in nearest


def test_a_registered_persons_township_orders_courses_without_a_location(wechat):
    register_via_chat(wechat, "o-s11", township="4")  # 富乐镇, in the north
    first = wechat.say("o-s11", "课程").text.split("\n")
    assert "育婴员" in first[1]  # the 富乐镇 course


TOWNSHIPS = ("agang", "banqiao", "dashuijing", "fule", "jiulong", "lubuge", "majie", "changdi")


def _far_to_near(db, clock, count: int) -> None:
    """``count`` open courses added farthest first from 罗雄: the order of their rows says
    nothing of their distance. Every third has no place of its own (its township's counts),
    and some share one place (ties, broken by start and id)."""
    from datetime import time, timedelta
    from decimal import Decimal

    from models.audit import Channel
    from models.catalogue import CertificateKind
    from models.courses import CourseSpec, publish_course

    for n in range(count):
        step = (count - n) // 2 * 0.004  # two courses at each distance
        own = n % 3 != 0
        day = clock.today() + timedelta(days=7 + n % 5)
        publish_course(db, spec=CourseSpec(
            code=f"far-near-{n:02d}", institution_code="lp-pes", category_code="construction",
            name=f"远近{n}", name_en=f"far-near {n}", occupation="砌筑工", occupation_en="Mason",
            certificate_kind=CertificateKind.COMPLETION, certificate_level=None,
            theory_hours=0, practice_hours=4, capacity=30, fee_yuan=Decimal(0),
            is_entrepreneurship=False, township_code=TOWNSHIPS[n % len(TOWNSHIPS)],
            address="测试", lat=24.885 + step if own else None, lng=104.309 + step if own else None,
            radius_m=None, sessions=[(day, time(9), time(13))]),
            actor_id=None, channel=Channel.CLI, now=clock.now())
    db.flush()


def test_nearest_first_is_the_true_order_of_every_open_course_page_by_page(db, clock):
    """More open courses than a page's window, added farthest first: each page is exactly the
    true nearest-first order of them all (what a province's thousands of courses need: the
    database hands over the nearest, never an arbitrary few hundred)."""
    from models.courses import NEAREST_MARGIN, CourseQuery, find_courses
    from models.regions import distance_km

    _far_to_near(db, clock, 2 * NEAREST_MARGIN + 20)
    origin = (24.885, 104.309)
    every = find_courses(db, query=CourseQuery(), today=clock.today(), per_page=10_000).courses

    def true_km(course) -> float:
        place = (course.lat, course.lng) if course.lat is not None else (
            course.township.lat, course.township.lng)
        return distance_km(origin, place)

    truth = [c.id for c in sorted(every, key=lambda c: (true_km(c), c.starts_on, c.id))]
    assert len(truth) > 5 + NEAREST_MARGIN
    pages = -(-len(truth) // 5)
    for page in range(1, pages + 1):
        shown = find_courses(db, query=CourseQuery(near=origin), today=clock.today(),
                             page=page, per_page=5)
        assert (shown.page, shown.pages, shown.total) == (page, pages, len(truth))
        assert [c.id for c in shown.courses] == truth[(page - 1) * 5: page * 5], page


def test_a_list_nearest_first_pages_no_further_than_its_last_page(db, clock):
    """Past NEAREST_PAGES a person searches rather than pages: the list says how many courses
    there are, and a page asked for past the last shows the last."""
    from models.courses import NEAREST_PAGES, CourseQuery, find_courses

    _far_to_near(db, clock, NEAREST_PAGES)
    query = CourseQuery(near=(24.885, 104.309))
    every = find_courses(db, query=CourseQuery(), today=clock.today(), per_page=10_000).total
    assert every > NEAREST_PAGES  # one course a page: more courses than pages
    last = find_courses(db, query=query, today=clock.today(), page=10**6, per_page=1)
    assert (last.page, last.pages, last.total) == (NEAREST_PAGES, NEAREST_PAGES, every)
    hundredth = find_courses(db, query=query, today=clock.today(), page=NEAREST_PAGES,
                             per_page=1)
    assert [c.id for c in last.courses] == [c.id for c in hundredth.courses] != []
