"""Signing in to the mini-program API: code2session at the fake WeChat API, the link to a
person (unionid, or a code from the official account), access and refresh tokens."""

from __future__ import annotations

from sqlalchemy import select

from models.miniprogram import MiniProgramAccount, RefreshToken
from models.persons import Person
from tests.api_fixtures import Api, login_code


def test_a_demo_person_signs_in_by_unionid(client, fake_wechat, config):
    code = login_code("demo-trainee")
    answer = client.post("/api/v1/session", json={"code": code})
    assert answer.status_code == 200
    session = answer.get_json()
    assert session["token_type"] == "Bearer" and session["expires_in"] == 900
    assert session["registered"] is True and session["roles"] == ["trainee"]
    [sent] = fake_wechat.state.logins
    assert sent == {"appid": config.wechat_miniprogram_app_id,
                    "secret": config.wechat_miniprogram_app_secret,
                    "js_code": code, "grant_type": "authorization_code"}
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert me.status_code == 200 and me.get_json()["name"] == "李春花"


def test_roles_come_with_the_session(sign_in):
    assert sign_in("demo-staff")["roles"] == ["trainee", "staff"]
    assert sign_in("demo-cadre")["roles"] == ["trainee", "cadre"]


def test_the_session_key_never_leaves_the_server(client, fake_wechat, db, services):
    answers = [client.post("/api/v1/session", json={"code": login_code("demo-trainee")})]
    token = answers[0].get_json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    answers += [client.get(path, headers=auth) for path in ("/me", "/vouchers", "/attendance")]
    answers.append(client.post("/api/v1/session/refresh",
                               json={"refresh_token": answers[0].get_json()["refresh_token"]}))
    key = "fake-session-key-demo-trainee"
    assert all(key not in a.get_data(as_text=True) for a in answers)
    account = db.scalar(select(MiniProgramAccount).where(
        MiniProgramAccount.openid == "mp-demo-trainee"))
    assert key not in account.session_key_sealed
    assert services.vault.open(account.session_key_sealed).startswith(key)


def test_a_code_works_once_and_a_wrong_one_is_refused(client):
    code = login_code("demo-trainee")
    assert client.post("/api/v1/session", json={"code": code}).status_code == 200
    again = client.post("/api/v1/session", json={"code": code}, headers={"Accept-Language": "en"})
    assert again.status_code == 401
    assert again.get_json()["error"] == {
        "code": "login_refused", "field": "code", "reason": "40029",
        "message": "WeChat did not accept this sign-in. Please try again."}
    assert client.post("/api/v1/session", json={"code": "made-up"}).status_code == 401


def test_without_a_link_the_binding_step_is_asked_for(client, wechat, db):
    answer = client.post("/api/v1/session", json={"code": login_code("o-new", unionid=False)})
    assert answer.status_code == 403
    error = answer.get_json()["error"]
    assert error["code"] == "binding_required" and "绑定小程序" in error["message"]


def test_binding_with_a_code_from_the_official_account(client, wechat, db):
    wechat.follow("o-app-user")
    reply = wechat.say("o-app-user", "绑定小程序").text
    code = _digits(reply)
    answer = client.post("/api/v1/session/bind",
                         json={"code": login_code("o-app-user"), "bind_code": code})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["registered"] is False
    person = db.scalar(select(Person).where(Person.openid == "o-app-user"))
    # The unionid is kept: the next sign-in (another phone) needs no code.
    assert person.unionid == "union-o-app-user"
    again = client.post("/api/v1/session", json={"code": login_code("o-app-user")})
    assert again.status_code == 200 and again.get_json()["person_id"] == person.id
    # The code was used up.
    used = client.post("/api/v1/session/bind",
                       json={"code": login_code("o-other"), "bind_code": code})
    assert used.status_code == 422 and used.get_json()["error"]["field"] == "bind_code"


def test_a_wrong_binding_code_is_refused_and_guessing_is_limited(client, wechat):
    answers = [client.post("/api/v1/session/bind",
                           json={"code": login_code("o-guess"), "bind_code": "000000"})
               for _ in range(6)]
    assert [a.status_code for a in answers] == [422] * 5 + [429]
    limited = answers[5]
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def _digits(text: str) -> str:
    import re

    return re.search(r"\d{6}", text).group(0)


def test_refresh_rotates_and_a_reused_token_ends_the_session(client, sign_in, db):
    first = sign_in("demo-trainee")
    second = client.post("/api/v1/session/refresh",
                         json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    renewed = second.get_json()
    assert renewed["refresh_token"] != first["refresh_token"]
    # The spent token again: refused, and the whole family is revoked.
    reused = client.post("/api/v1/session/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401 and reused.get_json()["error"]["code"] == "session_invalid"
    latest = client.post("/api/v1/session/refresh",
                         json={"refresh_token": renewed["refresh_token"]})
    assert latest.status_code == 401
    # Only hashes are stored.
    hashes = db.scalars(select(RefreshToken.token_hash)).all()
    assert first["refresh_token"] not in hashes and renewed["refresh_token"] not in hashes


def test_sign_out_ends_refresh(client, sign_in):
    session = sign_in("demo-trainee")
    auth = {"Authorization": f"Bearer {session['access_token']}"}
    assert client.delete("/api/v1/session", headers=auth).status_code == 204
    refused = client.post("/api/v1/session/refresh",
                          json={"refresh_token": session["refresh_token"]})
    assert refused.status_code == 401


def test_an_access_token_expires(client, sign_in, clock):
    token = sign_in("demo-trainee")["access_token"]
    api = Api(client, {"Authorization": f"Bearer {token}", "Accept-Language": "en"})
    assert api.get("/me").status_code == 200
    clock.advance(minutes=16)
    expired = api.get("/me")
    assert expired.status_code == 401
    assert expired.get_json()["error"]["code"] == "token_expired"
    assert expired.headers["WWW-Authenticate"] == "Bearer"


def test_no_token_or_a_forged_one_is_401_in_json(client):
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic x"}):
        answer = client.get("/api/v1/vouchers", headers=headers)
        assert answer.status_code == 401
        assert answer.is_json and answer.get_json()["error"]["code"] == "unauthorized"
        assert answer.get_json()["error"]["message"] == "请重新登录。"


def test_errors_under_api_are_json_never_html(client):
    for method, path in (("GET", "/api/v1/nowhere"), ("GET", "/api/v2/x"),
                         ("GET", "/api/v1/session"), ("PUT", "/api/v1/vouchers")):
        answer = client.open(path, method=method)
        assert answer.is_json, (path, answer.data)
        assert "<html" not in answer.get_data(as_text=True).lower()
        assert answer.status_code in (404, 405)
    bad = client.post("/api/v1/session", data="{not json", content_type="application/json")
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "code"


def test_the_document_and_its_page(client):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    spec = document.get_json()
    assert spec["openapi"].startswith("3.1")
    assert {"/api/v1/session", "/api/v1/vouchers", "/api/v1/staff/redemptions",
            "/api/v1/cadre/figures"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    page = client.get("/api/v1/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "/api/v1/vouchers" in html and "ClaimIn" in html
    # Offline: no script, nothing loaded from anywhere else.
    assert "<script" not in html and "src=" not in html and "<link" not in html
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
