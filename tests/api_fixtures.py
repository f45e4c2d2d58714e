"""Fixtures of the mini-program API: sessions and bearer tokens (issue 9).

People sign in as the mini-program does: a wx.login code posted to /api/v1/session, which the
app exchanges at the fake WeChat API (devtools.fake_wechat: "code-<openid>" is the user whose
unionid is "union-<openid>", which the demo people carry)."""

from __future__ import annotations

import itertools
import re

import pytest

_codes = itertools.count(1)


def login_code(user: str, *, unionid: bool = True) -> str:
    """A fresh wx.login code for this user (each code works once, as WeChat's)."""
    return f"{'code' if unionid else 'nounion'}-{user}~{next(_codes)}"


class Api:
    """The API as the mini-program calls it: JSON, a bearer token, Accept-Language."""

    def __init__(self, client, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.headers = headers or {}

    def call(self, method: str, path: str, *, json=None, headers=None, **query):
        return self.client.open("/api/v1" + path, method=method, json=json,
                                query_string=query or None,
                                headers={**self.headers, **(headers or {})})

    def get(self, path: str, **query):
        return self.call("GET", path, **query)

    def post(self, path: str, json=None, **kw):
        return self.call("POST", path, json=json if json is not None else {}, **kw)

    def patch(self, path: str, json=None, **kw):
        return self.call("PATCH", path, json=json, **kw)

    def delete(self, path: str, **kw):
        return self.call("DELETE", path, **kw)


@pytest.fixture
def sign_in(client):
    """Sign a person in through POST /api/v1/session; returns the session's JSON."""

    def run(user: str, *, unionid: bool = True) -> dict:
        answer = client.post("/api/v1/session", json={"code": login_code(user, unionid=unionid)})
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    return run


@pytest.fixture
def api_as(client, sign_in):
    """The API as a signed-in demo person: api_as("demo-trainee").get("/me")."""

    def make(user: str, *, locale: str = "zh-CN") -> Api:
        token = sign_in(user)["access_token"]
        return Api(client, {"Authorization": f"Bearer {token}", "Accept-Language": locale})

    return make


@pytest.fixture
def anonymous(client) -> Api:
    return Api(client, {"Accept-Language": "zh-CN"})


@pytest.fixture
def trainee_api(api_as) -> Api:
    return api_as("demo-trainee")


@pytest.fixture
def staff_api(api_as) -> Api:
    return api_as("demo-staff")


@pytest.fixture
def cadre_api(api_as) -> Api:
    return api_as("demo-cadre")


@pytest.fixture
def newcomer_api(client, wechat):
    """Someone who follows the official account links their mini-program with the code the
    account gives for “绑定小程序”; returns their Api."""

    def make(openid: str, *, locale: str = "zh-CN") -> Api:
        wechat.follow(openid)
        code = re.search(r"\d{6}", wechat.say(openid, "绑定小程序").text).group(0)
        answer = client.post("/api/v1/session/bind",
                             json={"code": login_code(openid, unionid=False), "bind_code": code})
        assert answer.status_code == 200, answer.get_json()
        token = answer.get_json()["access_token"]
        return Api(client, {"Authorization": f"Bearer {token}", "Accept-Language": locale})

    return make
