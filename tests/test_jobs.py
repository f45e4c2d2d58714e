"""Job openings: posting with reasons per field, the Excel import (all or nothing), matching,
the push through the outbox and the fake WeChat API (customer message inside the 48-hour
window, template outside it, one push a person a day), 退订/订阅 through the signed callback,
and 招聘 in the chat."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

import worker
from models.audit import AuditEntry, Channel
from models.catalogue import Course
from models.catalogue import Intent as WorkIntent
from models.errors import JobFileRejected, JobOpeningRefused
from models.jobs import (
    JobOpening,
    JobPush,
    candidates_today,
    import_openings,
    openings_for,
    post_opening,
    push_due_openings,
    withdraw_opening,
)
from models.outbox import Outbox, OutboxStatus, enqueue
from models.persons import ConsentHow, Person, meet, set_following
from models.registration import RegistrationForm, register
from models.vouchers import claim_voucher
from runtime.wechat_api import Client
from tests.damaged_files import damaged
from tests.factories import attend_and_complete, id_number, redeem, register_via_chat, staff_member

GOOD = {
    "employer": "罗平县宏达建材有限公司",
    "occupation": "叉车司机",
    "category": "",
    "township": "罗雄街道",
    "place": "",
    "wage": "4000-5500元/月",
    "contact": "0874-8212345 王经理",
    "valid_until": "2026-12-31",
}
HEADERS = ["用人单位", "职业/工种", "类别", "乡镇", "工作地点", "工资待遇", "联系方式", "有效期至"]


class County:
    """People and openings set up through the domain, as the bot and the desk would."""

    def __init__(self, services, clock, fake_wechat) -> None:
        self.services, self.clock, self.fake = services, clock, fake_wechat
        self.api = Client(services.config, services.kv)
        self.seq = 100
        self.staff: str | None = None

    def run(self, fn, **kw):
        with self.services.sessions.begin() as db:
            return fn(db, **kw)

    def person(self, openid: str, *, township: str = "agang",
               intent: WorkIntent = WorkIntent.OUTSIDE) -> int:
        self.seq += 2
        now, today = self.clock.now(), self.clock.today()
        with self.services.sessions.begin() as db:
            meet(db, openid=openid, now=now)
            form = RegistrationForm(name="赵六", id_number=id_number(seq=f"{self.seq}"),
                                    phone="13900001111", township_code=township, intent=intent)
            return register(db, vault=self.services.vault, form=form, openid=openid,
                            consent=ConsentHow.WECHAT, channel=Channel.WECHAT, now=now,
                            today=today).id

    def trained(self, openid: str, course_code: str = "lp-2026-006") -> None:
        """Claimed, redeemed and completed: a finished course of its category."""
        now = self.clock.now()
        if self.staff is None:
            self.staff = staff_member(self.services, institution_code="lp-pes",
                                      openid="o-job-staff", now=now)
        course = self.run(lambda db: db.scalar(select(Course).where(Course.code == course_code)))
        voucher = self.run(claim_voucher, openid=openid, course_id=course.id,
                           channel=Channel.WECHAT, now=now, today=self.clock.today())
        redeem(self.services, voucher_id=voucher.id, staff_openid=self.staff, now=now)
        attend_and_complete(self.services, staff_openid=self.staff, voucher_number=voucher.number,
                            certificate_no="JZ-1", now=now)

    def trainee(self, openid: str, *, township: str = "luoxiong",
                intent: WorkIntent = WorkIntent.OUTSIDE, course_code: str = "lp-2026-006"
                ) -> int:
        """Registered and trained; the notices about their voucher are sent already, so what
        they are sent next is a job push."""
        person_id = self.person(openid, township=township, intent=intent)
        self.trained(openid, course_code)
        self.drain()
        return person_id

    def drain(self) -> None:
        """Send what is queued (the notices about someone's voucher)."""
        while worker.send_due(self.services, self.api):
            pass

    def post(self, **values: str) -> int:
        return self.run(post_opening, values={**GOOD, **values}, desk_user_id=None,
                        channel=Channel.CLI, now=self.clock.now(), today=self.clock.today()).id

    def matching(self, job_id: int) -> set[str]:
        with self.services.sessions() as db:
            people = db.scalars(candidates_today(job_id, self.clock.today())).all()
            return {p.openid for p in people}

    def push(self) -> list[dict]:
        """A worker round: the periodic jobs, then everything due is sent."""
        self.fake.state.sent.clear()
        worker.run_jobs(self.services)
        while worker.send_due(self.services, self.api):
            pass
        return list(self.fake.state.sent)


def sent_to(sent: list[dict], openid: str) -> list[dict]:
    return [m for m in sent if m["touser"] == openid]


def text_of(message: dict) -> str:
    if message["kind"] == "customer":
        return message["text"]["content"]
    return " ".join(field["value"] for field in message["data"].values())


@pytest.fixture
def county(services, clock, fake_wechat) -> County:
    return County(services, clock, fake_wechat)


def count_openings(services) -> int:
    with services.sessions() as db:
        return db.scalar(select(func.count(JobOpening.id)))


# --- posting ---------------------------------------------------------------------------------

def test_a_good_opening_is_posted_and_audited(county, services):
    job_id = county.post(category="7", place="罗平县城东工业园区")
    with services.sessions() as db:
        job = db.get(JobOpening, job_id)
        assert (job.employer, job.category.code, job.township.code, job.valid_until) == (
            "罗平县宏达建材有限公司", "construction", "luoxiong", date(2026, 12, 31))
        assert job.where("zh_Hans_CN") == "罗雄街道 罗平县城东工业园区"
        assert db.scalar(select(AuditEntry.action).where(
            AuditEntry.target_type == "job_openings", AuditEntry.target_id == job_id)) == (
            "job_opening.post")


def test_every_bad_field_gets_its_own_reason_and_nothing_is_saved(county, services):
    before = count_openings(services)
    with pytest.raises(JobOpeningRefused) as refused:
        county.post(employer="  ", category="挖掘机", township="纽约", wage="高" * 61,
                    valid_until="2026-13-01")
    problems = {(p.field, p.code) for p in refused.value.data["problems"]}
    assert problems == {("employer", "required"), ("category", "unknown_category"),
                        ("township", "unknown_township"), ("wage", "too_long"),
                        ("valid_until", "bad_date")}
    assert count_openings(services) == before


@pytest.mark.parametrize(("values", "problem"), [
    ({"township": "", "place": ""}, ("place", "place_required")),
    ({"valid_until": "2026-11-24"}, ("valid_until", "valid_until_past")),
    ({"valid_until": "2028-01-01"}, ("valid_until", "valid_until_far")),
])
def test_an_opening_needs_a_place_and_a_sensible_date(county, values, problem):
    with pytest.raises(JobOpeningRefused) as refused:
        county.post(**values)
    assert [(p.field, p.code) for p in refused.value.data["problems"]] == [problem]


# --- the Excel import ------------------------------------------------------------------------

def workbook(rows: list[list[object]], headers: list[str] = HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def import_file(county: County, content: bytes, filename: str = "招聘.xlsx"):
    return county.run(import_openings, filename=filename, content=content, desk_user_id=None,
                      channel=Channel.CLI, now=county.clock.now(), today=county.clock.today())


GOOD_ROWS = [
    ["罗平县宏达建材有限公司", "叉车司机", "水泥生产", "罗雄街道", "", "4000-5500元/月",
     "0874-8212345", date(2026, 12, 31)],
    ["广东东莞华强电子厂", "普工", "12", "", "广东省东莞市", "5000元/月起，包吃住", "13800001234",
     "2027-01-15"],
]


def test_an_excel_file_is_posted_whole_and_a_second_import_changes_nothing(county, services):
    before = count_openings(services)
    first = import_file(county, workbook(GOOD_ROWS))
    assert (first.new, first.unchanged) == (2, 0)
    again = import_file(county, workbook(GOOD_ROWS))
    assert (again.new, again.unchanged) == (0, 2)
    assert count_openings(services) == before + 2
    with services.sessions() as db:
        outside = db.scalar(select(JobOpening).where(JobOpening.employer == "广东东莞华强电子厂"))
        assert outside.category.code == "outside" and outside.township is None
        assert outside.valid_until == date(2027, 1, 15)


def test_bad_rows_are_reported_by_row_and_column_and_nothing_is_saved(county, services):
    before = count_openings(services)
    rows = [GOOD_ROWS[0],
            ["", "电焊工", "", "火星镇", "", "6000元/月", "0874-1", "2026-02-30"],
            GOOD_ROWS[1],
            GOOD_ROWS[0]]
    with pytest.raises(JobFileRejected) as rejected:
        import_file(county, workbook(rows))
    errors = {(e.row, e.column, e.code) for e in rejected.value.data["errors"]}
    assert errors == {(3, "employer", "required"), (3, "township", "unknown_township"),
                      (3, "valid_until", "bad_date"), (5, None, "duplicate_row")}
    assert count_openings(services) == before


@pytest.mark.parametrize(("headers", "filename", "expected"), [
    (["用人单位", "职业/工种", "乡镇", "工资待遇", "有效期至", "备注"], "a.xlsx",
     {(1, "备注", "unknown_column"), (1, "contact", "missing_column")}),
    (HEADERS, "jobs.csv", {(0, None, "unknown_extension")}),
])
def test_a_file_with_wrong_columns_or_type_is_refused_whole(county, headers, filename,
                                                            expected):
    with pytest.raises(JobFileRejected) as rejected:
        import_file(county, workbook([GOOD_ROWS[0]], headers), filename)
    assert {(e.row, e.column, e.code) for e in rejected.value.data["errors"]} == expected


DAMAGED = {"not a zip at all": b"not a zip at all", **damaged(workbook(GOOD_ROWS))}


@pytest.mark.parametrize("content", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_file_that_is_not_a_readable_workbook_is_refused_and_nothing_is_saved(
        county, services, content):
    before = count_openings(services)
    with pytest.raises(JobFileRejected) as rejected:
        import_file(county, content)
    assert [(e.row, e.code) for e in rejected.value.data["errors"]] == [(0, "unreadable_xlsx")]
    assert count_openings(services) == before


# --- matching --------------------------------------------------------------------------------

@pytest.fixture
def people(county):
    """Trainees: home lives in 罗雄街道 and wants to work outside the province; by_intent lives
    in 阿岗镇, finished a farming course and wants to work in the province; trained lives in
    阿岗镇 and finished a housekeeping course (a category aimed at work in the province). Never
    trained: untrained lives in 罗雄街道 and wants to work in the province; nobody neither."""
    county.trainee("o-home", township="luoxiong")
    county.trainee("o-by-intent", township="agang", intent=WorkIntent.PROVINCE,
                   course_code="lp-2026-008")
    county.trainee("o-trained", township="agang")
    county.person("o-untrained", township="luoxiong", intent=WorkIntent.PROVINCE)
    county.person("o-nobody")
    return county


EVERYONE = {"o-home", "o-by-intent", "o-trained", "o-untrained", "o-nobody"}


@pytest.mark.parametrize(("values", "expected"), [
    # intent, anywhere: the opening names no township
    ({"township": "", "place": "曲靖市", "category": "construction"}, {"o-by-intent"}),
    # intent, at home only: 阿岗镇 is by_intent's; untrained lives in 罗雄街道 but never trained
    ({"township": "阿岗镇", "category": "construction"}, {"o-by-intent"}),
    ({"township": "罗雄街道", "category": "construction"}, set()),
    # trained for the category, wherever they live; and intent
    ({"township": "", "place": "昆明市", "category": "housekeeping"},
     {"o-home", "o-by-intent", "o-trained"}),
    ({"township": "罗雄街道", "category": "housekeeping"}, {"o-home", "o-trained"}),
    ({"township": "", "place": "广东省东莞市", "category": "outside"}, {"o-home", "o-trained"}),
    # no category: trainees at home
    ({"township": "罗雄街道"}, {"o-home"}),
    ({"township": "", "place": "曲靖市"}, set()),
])
def test_an_opening_matches_trainees_by_category_intent_and_township(people, values,
                                                                     expected):
    job_id = people.post(**values)
    assert people.matching(job_id) & EVERYONE == expected


def test_people_who_never_trained_get_no_push_whatever_their_intent_and_home(county):
    county.person("o-untrained", township="luoxiong", intent=WorkIntent.PROVINCE)
    county.trainee("o-trainee", township="luoxiong", intent=WorkIntent.PROVINCE,
                   course_code="lp-2026-008")
    county.post(category="construction")  # aimed at the province, in 罗雄街道
    sent = county.push()
    assert sent_to(sent, "o-untrained") == []
    [pushed] = sent_to(sent, "o-trainee")
    assert "叉车司机" in text_of(pushed)


def test_only_registered_followers_who_did_not_unsubscribe_are_matched(county, wechat):
    county.trainee("o-left")
    county.trainee("o-stopped")
    county.trainee("o-home")
    wechat.unfollow("o-left")
    wechat.say("o-stopped", "退订")
    wechat.say("o-visitor", "你好")  # follows, never registered
    job_id = county.post()
    assert county.matching(job_id) & {"o-left", "o-stopped", "o-visitor", "o-home"} == {
        "o-home"}


def test_openings_for_a_person_list_the_matching_ones_first(people, services, clock):
    county = people
    other = county.post(township="", place="曲靖市", occupation="保安")
    clock.advance(minutes=1)
    home = county.post(occupation="仓库管理员")
    clock.advance(minutes=1)
    newest = county.post(township="", place="昆明市", occupation="厨师")
    with services.sessions.begin() as db:
        person_id = db.scalar(select(Person.id).where(Person.openid == "o-home"))
        listed = openings_for(db, person_id=person_id, today=clock.today(), limit=50)
    order = [item.opening.id for item in listed]
    assert order.index(home) < order.index(newest) < order.index(other)
    assert [item.is_match for item in listed if item.opening.id in (home, newest, other)] == [
        True, False, False]


# --- pushing ---------------------------------------------------------------------------------

def test_a_push_goes_as_a_customer_message_inside_the_window_and_a_template_outside(
        county, wechat, clock):
    register_via_chat(wechat, "o-quiet", id=id_number(seq="201"), intent="3")  # 罗雄街道
    county.trained("o-quiet")
    county.drain()
    clock.advance(days=3)  # o-quiet has not written for three days
    county.trainee("o-recent")
    county.post()
    sent = county.push()
    [recent] = sent_to(sent, "o-recent")
    assert recent["kind"] == "customer"
    assert "叉车司机" in text_of(recent) and "0874-8212345" in text_of(recent)
    assert "退订" in text_of(recent)
    [quiet] = sent_to(sent, "o-quiet")
    assert quiet["kind"] == "template" and quiet["template_id"] == "tpl-notice"
    assert "叉车司机" in text_of(quiet) and "罗平县宏达建材有限公司" in text_of(quiet)


def test_wechat_refusing_the_customer_message_falls_back_to_a_template(county, fake_wechat):
    county.trainee("o-home")
    county.post()
    fake_wechat.state.silent_openids.add("o-home")  # 45015 inside a 200
    [message] = sent_to(county.push(), "o-home")
    assert message["kind"] == "template" and "叉车司机" in text_of(message)


def test_a_push_is_worded_in_the_persons_language(county, wechat):
    county.trainee("o-home")
    wechat.say("o-home", "English")
    county.post()
    [message] = sent_to(county.push(), "o-home")
    assert "New job opening" in text_of(message) and "Luoxiong" in text_of(message)
    assert "Dec 31, 2026" in text_of(message)


def test_a_person_gets_one_push_a_day_and_the_second_opening_the_next_day(county, clock):
    county.trainee("o-home")
    first = county.post(occupation="叉车司机")
    second = county.post(occupation="仓库管理员")
    today = county.push()
    assert [("叉车司机" in text_of(m)) for m in sent_to(today, "o-home")] == [True]
    assert sent_to(county.push(), "o-home") == []  # the same day: nothing more
    clock.advance(hours=17)  # 02:00 the next day: nobody is woken by a job message
    assert sent_to(county.push(), "o-home") == []
    clock.advance(hours=7)  # 09:00
    [tomorrow] = sent_to(county.push(), "o-home")
    assert "仓库管理员" in text_of(tomorrow)
    with county.services.sessions() as db:
        pushes = db.execute(select(JobPush.job_id, JobPush.pushed_on).join(Person).where(
            Person.openid == "o-home").order_by(JobPush.pushed_on)).all()
    assert pushes == [(first, clock.today() - timedelta(days=1)), (second, clock.today())]


def test_a_push_that_queues_nothing_keeps_no_row_and_takes_no_day(county, services, clock):
    """enqueue queues nothing when the message's reason is taken already (here: an earlier
    message of the same push, sent long ago): no push row stays, so the person's day is free
    for the next opening."""
    person_id = county.trainee("o-home")
    first = county.post(occupation="叉车司机")
    second = county.post(occupation="仓库管理员")
    with services.sessions.begin() as db:
        earlier = enqueue(db, person=db.get(Person, person_id), now=clock.now(),
                          reason=f"job.push:{first}:{person_id}", text="叉车司机")
        earlier.status = OutboxStatus.SENT
    [message] = sent_to(county.push(), "o-home")
    assert "仓库管理员" in text_of(message)
    with services.sessions() as db:
        pushes = db.execute(select(JobPush.job_id, JobPush.pushed_on, JobPush.outbox_id)
                            .where(JobPush.person_id == person_id)).all()
    assert [(job_id, day) for job_id, day, _ in pushes] == [(second, clock.today())]
    assert all(outbox_id is not None for *_, outbox_id in pushes)


def test_pushing_runs_in_chunks_resumes_and_never_pushes_twice(county, services, clock):
    for n in range(3):
        county.trainee(f"o-home-{n}")
    job_id = county.post()
    homes = {f"o-home-{n}" for n in range(3)}
    chunks = []
    while queued := county.run(push_due_openings, now=clock.now(), limit=1):
        chunks.append(queued)  # each chunk its own transaction: a crash loses none done
    assert chunks and set(chunks) == {1}
    assert county.matching(job_id) & homes == set()
    assert county.run(push_due_openings, now=clock.now(), limit=100) == 0
    with services.sessions() as db:
        pushed = db.scalars(select(Person.openid).join(JobPush).where(JobPush.job_id == job_id))
        assert homes <= set(pushed)
    sent = county.push()
    assert sorted(m["touser"] for m in sent if m["touser"] in homes) == sorted(homes)


def test_a_withdrawn_opening_is_not_pushed_and_its_queued_pushes_are_dropped(county, services,
                                                                             clock):
    county.trainee("o-home")
    job_id = county.post()
    county.run(push_due_openings, now=clock.now(), limit=100)  # queued, not yet sent
    county.run(withdraw_opening, job_id=job_id, desk_user_id=None, channel=Channel.CLI,
               now=clock.now())
    assert sent_to(county.push(), "o-home") == []
    with services.sessions() as db:
        row = db.scalar(select(Outbox).where(Outbox.reason.like(f"job.push:{job_id}:%")))
        assert row.status is OutboxStatus.FAILED and row.last_error == "opening withdrawn"


# --- 退订 / 订阅 ------------------------------------------------------------------------------

def test_unsubscribing_stops_every_push_and_subscribing_resumes(county, talk, clock,
                                                                 person_named):
    county.trainee("o-home")
    talk("o-home", [("退订", ["退订", "订阅"])])
    assert person_named("o-home").unsubscribed_at is not None
    county.post()
    assert sent_to(county.push(), "o-home") == []
    talk("o-home", [("订阅", "退订")])
    clock.advance(hours=1)  # the opening is looked at again within the hour
    [message] = sent_to(county.push(), "o-home")
    assert "叉车司机" in text_of(message)


def test_unsubscribing_drops_pushes_queued_but_not_sent(county, talk, services, clock):
    county.trainee("o-home")
    county.post()
    county.run(push_due_openings, now=clock.now(), limit=100)
    talk("o-home", [("退订", "退订")])
    assert sent_to(county.push(), "o-home") == []
    with services.sessions() as db:
        row = db.scalar(select(Outbox).join(Person, Person.id == Outbox.person_id).where(
            Person.openid == "o-home", Outbox.is_broadcast.is_(True)))
        assert row.status is OutboxStatus.FAILED
        assert row.last_error == "unsubscribed before sending"


def test_notices_about_ones_own_vouchers_still_reach_the_unsubscribed(county, wechat,
                                                                      services, clock):
    county.trainee("o-home")
    wechat.say("o-home", "退订")
    with services.sessions.begin() as db:
        person = db.scalar(select(Person).where(Person.openid == "o-home"))
        broadcast = enqueue(db, person=person, reason="test:broadcast", now=clock.now(),
                            text="广播", broadcast=True)
        notice = enqueue(db, person=person, reason="test:notice", now=clock.now(),
                         text="您的培训券已核销。")
    assert broadcast is None and notice is not None


def test_english_words_unsubscribe_and_subscribe(county, talk, person_named):
    county.trainee("o-home")
    talk("o-home", [("English", "English"), ("unsubscribe", "Unsubscribed"),
                    ("subscribe", "Subscribed")])
    assert person_named("o-home").unsubscribed_at is None


def test_an_unfollowed_person_gets_no_push(county, wechat):
    county.trainee("o-home")
    county.run(set_following, person_id=county.run(
        lambda db: db.scalar(select(Person.id).where(Person.openid == "o-home"))),
        is_following=False, now=county.clock.now())
    county.post()
    assert sent_to(county.push(), "o-home") == []


# --- 招聘 in the chat -------------------------------------------------------------------------

def test_jobs_lists_current_openings_matching_first_and_a_digit_gives_the_contact(
        people, talk, clock):
    county = people
    county.post(township="", place="曲靖市", occupation="保安", contact="0874-1111111")
    county.post(occupation="仓库管理员", contact="0874-2222222")
    withdrawn = county.post(occupation="挖掘机司机")
    county.run(withdraw_opening, job_id=withdrawn, desk_user_id=None, channel=Channel.CLI,
               now=clock.now())
    listing, _ = talk("o-home", [
        ("招聘", ["招聘信息", "★ 仓库管理员", "保安", "罗雄街道"]),
        ("1", ["仓库管理员", "0874-2222222", "退订"]),
    ])
    assert "挖掘机司机" not in listing.text
    assert listing.text.index("仓库管理员") < listing.text.index("保安")


def test_jobs_in_english(people, talk):
    people.post(occupation="仓库管理员")
    talk("o-home", [("English", "English"), ("jobs", ["Job openings", "仓库管理员", "Luoxiong"]),
                    ("1", ["Contact", "0874-8212345"])])


def test_jobs_when_there_is_none(talk, services, clock):
    with services.sessions.begin() as db:
        for job in db.scalars(select(JobOpening).where(JobOpening.withdrawn_at.is_(None))):
            withdraw_opening(db, job_id=job.id, desk_user_id=None, channel=Channel.CLI,
                             now=clock.now())
    talk("o-anyone", [("招聘", "暂无招聘信息")])


@pytest.mark.parametrize(("hours_ago", "closed"), [
    (None, True), (47, False), (48.5, False), (49, True), (72, True)])
def test_the_window_is_taken_as_closed_only_when_it_surely_is(clock, hours_ago, closed):
    """last_seen_at is written at most hourly: up to 49 hours the person may still be inside
    the 48-hour window, so a customer message is tried (and falls back on 45015)."""
    from models.outbox import window_surely_closed

    seen = None if hours_ago is None else clock.now() - timedelta(hours=hours_ago)
    assert window_surely_closed(seen, clock.now()) is closed
