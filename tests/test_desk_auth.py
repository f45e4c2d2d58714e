"""Signing in to the bureau's desk: passwords, refusals, rate limits, CSRF, sessions, sign-out
and the commands that make desk users. Everything goes through the real sign-in form."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.audit import AuditEntry
from models.desk import DeskRole, DeskUser, hash_password
from tests.desk_fixtures import DESK_PASSWORD, form_token, sign_in
from webhooks.admin.auth import (
    LOGIN_FAILURES_PER_ADDRESS,
    LOGIN_FAILURES_PER_NAME,
    LOGIN_FAILURES_PER_NAME_AND_ADDRESS,
)
from webhooks.app import create_app

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def test_signed_out_desk_sends_to_the_sign_in_form_and_back(client, make_desk_user):
    user = make_desk_user(DeskRole.ADMIN)
    page = client.get("/admin/dashboard?year=2026")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/admin/login?next=")
    form = client.get(page.headers["Location"])
    assert "登录" in form.get_data(as_text=True)
    back = client.post("/admin/login", data={
        "username": user.username, "password": DESK_PASSWORD,
        "next": "/admin/dashboard?year=2026", "csrf_token": form_token(form.data)})
    assert back.status_code == 302
    assert back.headers["Location"] == "/admin/dashboard?year=2026"
    dashboard = client.get("/admin/dashboard", headers=ZH)
    assert dashboard.status_code == 200
    assert user.username in dashboard.get_data(as_text=True)


def test_sign_in_is_recorded_and_the_cookie_is_guarded(client, make_desk_user, db):
    user = make_desk_user(DeskRole.INSPECTOR)
    response = sign_in(client, user.username)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the test app is served over http
    stored = db.get(DeskUser, user.id)
    assert stored.last_sign_in_at is not None
    assert db.scalar(select(AuditEntry).where(AuditEntry.desk_user_id == user.id,
                                              AuditEntry.action == "desk_user.sign_in"))


def test_cookie_is_secure_when_the_desk_is_served_over_https(config, stack, sessions, kv, clock,
                                                              make_desk_user):
    app = create_app(config.but(public_base_url="https://peixun.example"), engine=stack.engine,
                     sessions=sessions, kv=kv, clock=clock)
    user = make_desk_user(DeskRole.ADMIN)
    response = sign_in(app.test_client(), user.username)
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


@pytest.mark.parametrize("username, password", [
    ("known", "not the password"),
    ("nobody-here", DESK_PASSWORD),
])
def test_wrong_password_and_unknown_user_get_the_same_answer(client, make_desk_user, username,
                                                             password):
    make_desk_user(DeskRole.ADMIN, username="known")
    response = sign_in(client, username, password)
    assert response.status_code == 401
    assert "用户名或密码不正确" in response.get_data(as_text=True)
    assert client.get("/admin/dashboard").status_code == 302  # still signed out


def test_wrong_password_in_english(client, make_desk_user):
    user = make_desk_user(DeskRole.ADMIN)
    page = client.get("/admin/login?lang=en")
    response = client.post("/admin/login", data={"username": user.username, "password": "x",
                                                  "csrf_token": form_token(page.data)})
    assert "The user name or the password is wrong." in response.get_data(as_text=True)


def test_disabled_user_is_refused_and_thrown_out(desk_client, runner, client):
    signed_in = desk_client(DeskRole.ADMIN)
    name = signed_in.desk_user.username
    assert signed_in.get("/admin/dashboard").status_code == 200
    result = runner.invoke(args=["desk", "disable", name])
    assert result.exit_code == 0, result.output
    assert signed_in.get("/admin/dashboard").status_code == 302  # out at once
    response = sign_in(client, name)
    assert response.status_code == 401
    assert "账号已停用" in response.get_data(as_text=True)


def test_a_new_password_signs_out_every_session(desk_client, sessions):
    signed_in = desk_client(DeskRole.ADMIN)
    with sessions.begin() as db:
        db.get(DeskUser, signed_in.desk_user.id).password_hash = hash_password("a new password!")
    assert signed_in.get("/admin/dashboard").status_code == 302


def test_sessions_end_twelve_hours_after_sign_in(desk_client, clock):
    signed_in = desk_client(DeskRole.ADMIN)
    clock.advance(hours=11)
    assert signed_in.get("/admin/dashboard").status_code == 200
    clock.advance(hours=2)
    assert signed_in.get("/admin/dashboard").status_code == 302


def sign_in_from(client, address: str, username: str, password: str = DESK_PASSWORD):
    """The sign-in form sent from another machine (``address``)."""
    page = client.get("/admin/login", environ_base={"REMOTE_ADDR": address})
    return client.post("/admin/login", environ_base={"REMOTE_ADDR": address},
                       data={"username": username, "password": password,
                             "csrf_token": form_token(page.data)})


def test_guessing_a_password_locks_the_guessing_address_not_the_admin(app, client,
                                                                      make_desk_user):
    user = make_desk_user(DeskRole.ADMIN)
    for _ in range(LOGIN_FAILURES_PER_NAME_AND_ADDRESS.amount):
        assert sign_in(client, user.username, "guess").status_code == 401
    # Even the right password is refused from there now, with the reason and how long to wait.
    refused = sign_in(client, user.username)
    assert refused.status_code == 429
    assert "登录失败次数过多" in refused.get_data(as_text=True)
    assert "15" in refused.get_data(as_text=True)
    assert client.get("/admin/dashboard").status_code == 302
    # The real admin, at another machine, still signs in.
    admin = app.test_client()
    assert sign_in_from(admin, "10.0.0.7", user.username).status_code == 302
    assert admin.get("/admin/dashboard").status_code == 200
    # Another account from the guessing machine is not locked by it.
    other = make_desk_user(DeskRole.ADMIN)
    assert sign_in(client, other.username).status_code == 302


def test_guessing_one_name_from_many_addresses_meets_a_higher_ceiling(app, make_desk_user):
    user = make_desk_user(DeskRole.ADMIN)
    per_address = LOGIN_FAILURES_PER_NAME_AND_ADDRESS.amount
    machines = LOGIN_FAILURES_PER_NAME.amount // per_address
    assert machines > 1  # the ceiling is well above what one address may try
    for n in range(machines):
        guesser = app.test_client()
        for _ in range(per_address):
            assert sign_in_from(guesser, f"10.1.0.{n}", user.username, "guess"
                                ).status_code == 401
    # Now the name is closed to everyone for the window, the right password too.
    assert sign_in_from(app.test_client(), "10.2.0.1", user.username).status_code == 429


def test_failed_sign_ins_are_limited_per_address(client, make_desk_user):
    user = make_desk_user(DeskRole.ADMIN)
    for n in range(LOGIN_FAILURES_PER_ADDRESS.amount):
        assert sign_in(client, f"guess-{n}", "guess").status_code == 401
    refused = sign_in(client, user.username)
    assert refused.status_code == 429
    # From another address the account is still open.
    page = client.get("/admin/login")
    other = client.post("/admin/login", environ_base={"REMOTE_ADDR": "10.0.0.8"},
                        data={"username": user.username, "password": DESK_PASSWORD,
                              "csrf_token": form_token(page.data)})
    assert other.status_code == 302


def test_sign_in_without_the_form_token_is_refused(client, make_desk_user):
    user = make_desk_user(DeskRole.ADMIN)
    client.get("/admin/login")
    response = client.post("/admin/login", data={"username": user.username,
                                                 "password": DESK_PASSWORD}, headers=ZH)
    assert response.status_code == 400
    assert "表单已过期" in response.get_data(as_text=True)
    assert client.get("/admin/dashboard").status_code == 302


def test_sign_in_with_a_token_from_another_session_is_refused(app, make_desk_user):
    user = make_desk_user(DeskRole.ADMIN)
    attacker, victim = app.test_client(), app.test_client()
    token = form_token(attacker.get("/admin/login").data)
    victim.get("/admin/login")
    response = victim.post("/admin/login", data={"username": user.username,
                                                 "password": DESK_PASSWORD,
                                                 "csrf_token": token})
    assert response.status_code == 400


def test_a_cookie_kept_from_before_signing_out_is_refused(desk_client, db):
    signed_in = desk_client(DeskRole.ADMIN)
    page = signed_in.get("/admin/dashboard")
    kept = signed_in.get_cookie("session").value
    out = signed_in.post("/admin/logout", data={"csrf_token": form_token(page.data)})
    assert out.status_code == 302
    signed_in.set_cookie("session", kept)  # the cookie put back, as a thief would
    replayed = signed_in.get("/admin/dashboard")
    assert replayed.status_code == 302
    assert replayed.headers["Location"].startswith("/admin/login")
    assert db.scalar(select(AuditEntry).where(AuditEntry.desk_user_id == signed_in.desk_user.id,
                                              AuditEntry.action == "desk_user.sign_out"))


def test_signing_out_ends_the_users_sessions_on_every_browser(app, desk_client):
    office = desk_client(DeskRole.ADMIN)
    user = office.desk_user
    home = app.test_client()
    assert sign_in(home, user.username).status_code == 302
    assert home.get("/admin/dashboard").status_code == 200
    page = office.get("/admin/dashboard")
    office.post("/admin/logout", data={"csrf_token": form_token(page.data)})
    assert home.get("/admin/dashboard").status_code == 302
    # Signing in again opens a new session, which works.
    assert sign_in(home, user.username).status_code == 302
    assert home.get("/admin/dashboard").status_code == 200


def test_a_cookie_kept_from_before_disabling_stays_refused(desk_client, runner):
    signed_in = desk_client(DeskRole.ADMIN)
    kept = signed_in.get_cookie("session").value
    assert runner.invoke(args=["desk", "disable", signed_in.desk_user.username]).exit_code == 0
    signed_in.set_cookie("session", kept)
    assert signed_in.get("/admin/dashboard").status_code == 302


def test_sign_out_needs_the_token_and_ends_the_session(desk_client):
    signed_in = desk_client(DeskRole.ADMIN)
    assert signed_in.post("/admin/logout").status_code == 400  # another site cannot do it
    assert signed_in.get("/admin/dashboard").status_code == 200
    page = signed_in.get("/admin/dashboard")
    out = signed_in.post("/admin/logout", data={"csrf_token": form_token(page.data)})
    assert out.status_code == 302 and out.headers["Location"] == "/admin/login"
    assert "您已退出登录" in signed_in.get("/admin/login", headers=ZH).get_data(as_text=True)
    assert signed_in.get("/admin/dashboard").status_code == 302


def test_the_next_page_never_leads_off_the_desk(client, make_desk_user):
    user = make_desk_user(DeskRole.ADMIN)
    for target in ("//evil.example/", "https://evil.example/admin/", "/p/voucher/x",
                   "/admin/login"):
        page = client.get("/admin/login")
        response = client.post("/admin/login", data={
            "username": user.username, "password": DESK_PASSWORD, "next": target,
            "csrf_token": form_token(page.data)})
        assert response.headers["Location"] == "/admin/dashboard", target
        client.post("/admin/logout", data={
            "csrf_token": form_token(client.get("/admin/dashboard").data)})


BAD_NEXT = [
    "/admin/exports\r\nSet-Cookie: session=forged",  # CR/LF: was a 500 after signing in
    "/admin/exports\nLocation: https://evil.example/",
    "/admin/exports%0d%0aSet-Cookie:%20x=1",  # the same, percent-encoded
    "/admin/\texports",
    "/admin/exports\x00",
    "/admin/exports\u2028",  # a Unicode line separator
    "/admin/\u202eexports",  # a bidi override
    "//evil.example",
    "/\\evil.example",
    "/\\/evil.example/admin/",
    "https://evil",
    "javascript:alert(1)",
    "JaVaScRiPt:/admin/",
    " /admin/exports",
    "/admin/" + "x" * 5000,
]


@pytest.mark.parametrize("target", BAD_NEXT)
def test_a_strange_next_page_leads_to_the_dashboard_never_a_500(client, make_desk_user,
                                                                  target):
    user = make_desk_user(DeskRole.ADMIN)
    form = client.get("/admin/login", query_string={"next": target})
    assert form.status_code == 200
    response = client.post("/admin/login", data={
        "username": user.username, "password": DESK_PASSWORD, "next": target,
        "csrf_token": form_token(form.data)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/dashboard"
    assert "Set-Cookie: session=forged" not in str(response.headers)
    # Signed in already, the form sends on at once: to the dashboard too.
    again = client.get("/admin/login", query_string={"next": target})
    assert again.status_code == 302 and again.headers["Location"] == "/admin/dashboard"


def test_a_desk_page_with_a_query_is_still_a_good_next_page(client, make_desk_user):
    user = make_desk_user(DeskRole.ADMIN)
    form = client.get("/admin/login")
    response = client.post("/admin/login", data={
        "username": user.username, "password": DESK_PASSWORD,
        "next": "/admin/list?year=2026&township=%E7%BD%97", "csrf_token": form_token(form.data)})
    assert response.headers["Location"] == "/admin/list?year=2026&township=%E7%BD%97"


def test_the_wechat_callback_needs_no_desk_token(desk_client, wechat):
    desk_client(DeskRole.ADMIN)
    answer = wechat.say("o-desk-neighbour", "课程")
    assert answer.text  # the bot answers; CSRF is the desk's alone


def test_desk_pages_load_nothing_from_elsewhere(desk_client):
    page = desk_client(DeskRole.ADMIN).get("/admin/dashboard")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


# --- the commands -------------------------------------------------------------------------


def test_create_admin_from_the_terminal_then_sign_in(runner, client):
    result = runner.invoke(args=["desk", "create-admin", "wang.clerk", "--password-stdin"],
                           input="a long enough secret\n")
    assert result.exit_code == 0, result.output
    assert "wang.clerk" in result.output
    assert sign_in(client, "wang.clerk", "a long enough secret").status_code == 302


def test_create_admin_asks_for_the_password_twice(runner, client):
    result = runner.invoke(args=["desk", "create-admin", "li.clerk"],
                           input="a long enough secret\na long enough secret\n")
    assert result.exit_code == 0, result.output
    assert "a long enough secret" not in result.output
    assert sign_in(client, "li.clerk", "a long enough secret").status_code == 302


def test_add_institution_staff(runner, db):
    result = runner.invoke(args=["desk", "add-user", "zz.staff", "--role", "institution",
                                 "--institution", "lp-zhongzhi", "--password-stdin"],
                           input="a long enough secret\n")
    assert result.exit_code == 0, result.output
    user = db.scalar(select(DeskUser).where(DeskUser.username == "zz.staff"))
    assert user.role is DeskRole.INSTITUTION and user.institution.code == "lp-zhongzhi"


@pytest.mark.parametrize("args, words", [
    (["add-user", "x.staff", "--role", "institution", "--institution", "lp-nowhere"],
     "lp-nowhere"),
    (["add-user", "x.staff", "--role", "institution"], "--institution"),
    (["add-user", "x.insp", "--role", "inspector", "--institution", "lp-zhongzhi"], "培训机构"),
    (["create-admin", "Bad Name!"], "用户名"),
])
def test_add_user_refusals_change_nothing(runner, db, args, words):
    result = runner.invoke(args=["desk", *args, "--password-stdin"],
                           input="a long enough secret\n")
    assert result.exit_code != 0
    assert words in result.output
    assert db.scalar(select(DeskUser.id)) is None


def test_short_password_is_refused(runner, db):
    result = runner.invoke(args=["desk", "create-admin", "short.pw", "--password-stdin"],
                           input="short\n")
    assert result.exit_code != 0
    assert "10" in result.output
    assert db.scalar(select(DeskUser.id)) is None


def test_taken_user_name_is_refused(runner, make_desk_user):
    make_desk_user(DeskRole.ADMIN, username="taken")
    result = runner.invoke(args=["desk", "create-admin", "taken", "--password-stdin"],
                           input="a long enough secret\n")
    assert result.exit_code != 0
    assert "taken" in result.output
