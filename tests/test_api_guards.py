"""Guards of the mini-program API found in review: access tokens end with their session, ids
past 32 bits are not found (on the desk and the pages too), rate limits count by the client's
address behind our load balancer and per address for signed-in calls, and a JSON body's values
must have their own JSON type."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from models.desk import DeskRole
from models.vouchers import Voucher
from tests.api_fixtures import Api, login_code
from tests.factories import id_number
from webhooks.api.core import SIGNED_IN_ADDRESS_RATE
from webhooks.app import create_app

HUGE = "99999999999999999999999"
PAST_INT32 = str(2**31)
_guessers = itertools.count()


def _auth(session: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}", "Accept-Language": "en"}


def _ended(answer) -> None:
    assert answer.status_code == 401, answer.get_json()
    error = answer.get_json()["error"]
    assert (error["code"], error["reason"]) == ("session_invalid", "ended")
    assert error["message"] == "Your sign-in has ended. Please sign in again."
    assert answer.headers["WWW-Authenticate"] == "Bearer"


# --- access tokens end with their session --------------------------------------------------

def test_after_sign_out_the_access_token_is_refused(client, sign_in):
    session = sign_in("demo-trainee")
    assert client.get("/api/v1/me", headers=_auth(session)).status_code == 200
    assert client.delete("/api/v1/session", headers=_auth(session)).status_code == 204
    _ended(client.get("/api/v1/me", headers=_auth(session)))
    _ended(client.post("/api/v1/vouchers", json={"course_id": 1}, headers=_auth(session)))


def test_a_reused_refresh_token_ends_the_access_tokens_too(client, sign_in):
    first = sign_in("demo-trainee")
    renewed = client.post("/api/v1/session/refresh",
                          json={"refresh_token": first["refresh_token"]}).get_json()
    assert client.get("/api/v1/me", headers=_auth(renewed)).status_code == 200
    # Someone replays the spent token (a stolen copy): the whole session ends at once.
    reused = client.post("/api/v1/session/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    _ended(client.get("/api/v1/me", headers=_auth(renewed)))
    _ended(client.get("/api/v1/me", headers=_auth(first)))


def test_ending_one_session_leaves_the_others(client, sign_in):
    phone, tablet = sign_in("demo-trainee"), sign_in("demo-trainee")
    assert client.delete("/api/v1/session", headers=_auth(phone)).status_code == 204
    assert client.get("/api/v1/me", headers=_auth(tablet)).status_code == 200
    renewed = client.post("/api/v1/session/refresh",
                          json={"refresh_token": tablet["refresh_token"]}).get_json()
    assert client.get("/api/v1/me", headers=_auth(renewed)).status_code == 200


# --- ids past 32 bits ----------------------------------------------------------------------

@pytest.mark.parametrize("number", [HUGE, PAST_INT32])
def test_a_huge_id_in_an_api_path_is_not_found(trainee_api, number):
    for method, path in (("GET", f"/vouchers/{number}"), ("POST", f"/vouchers/{number}/cancel"),
                         ("GET", f"/courses/{number}")):
        answer = trainee_api.call(method, path, json={} if method == "POST" else None)
        assert answer.status_code == 404, (path, answer.data)
        assert answer.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("number", ["0", "007", str(2**31 - 1)])
def test_ids_up_to_the_largest_reach_their_operation(trainee_api, number):
    answer = trainee_api.get(f"/vouchers/{number}")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "voucher_not_found"


@pytest.mark.parametrize("number", [HUGE, PAST_INT32])
def test_a_huge_id_on_the_desk_is_not_found(desk_client, number):
    desk = desk_client(DeskRole.ADMIN)
    assert desk.get(f"/admin/exports/{number}").status_code == 404
    assert desk.get(f"/admin/exports/{number}/file").status_code == 404
    assert desk.post(f"/admin/jobs/{number}/withdraw").status_code == 404


def test_the_document_states_the_bounds_of_path_ids(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/vouchers/{voucher_id}", "/api/v1/vouchers/{voucher_id}/cancel",
                 "/api/v1/courses/{course_id}"):
        [parameter] = [p for op in paths[path].values() for p in op.get("parameters", [])
                       if p["in"] == "path"]
        assert parameter["schema"].items() >= {"type": "integer", "maximum": 2**31 - 1}.items()


# --- rate limits by the client's address ---------------------------------------------------

@pytest.fixture
def app_behind(config, stack, sessions, kv, clock):
    """The app as deployed behind ``hops`` proxies of ours."""

    def make(hops: int):
        return create_app(config.but(trusted_proxy_hops=hops), engine=stack.engine,
                          sessions=sessions, kv=kv, clock=clock)

    return make


def _guess_binding(client, forwarded_for: str):
    # Each guess from another mini-program user: only the per-address limit can stop them.
    return client.post("/api/v1/session/bind",
                       json={"code": login_code(f"o-guesser-{next(_guessers)}"),
                             "bind_code": "000000"},
                       headers={"X-Forwarded-For": forwarded_for})


def test_behind_the_load_balancer_each_client_is_limited_apart(app_behind, fake_wechat):
    client = app_behind(1).test_client()
    first = [_guess_binding(client, "203.0.113.7").status_code for _ in range(6)]
    assert first == [422] * 5 + [429]
    # Another phone of the province, through the same load balancer: not locked out.
    assert _guess_binding(client, "198.51.100.20").status_code == 422


def test_a_forwarded_address_a_client_sets_dodges_nothing(app_behind, fake_wechat):
    client = app_behind(0).test_client()
    answers = [_guess_binding(client, f"203.0.113.{n}").status_code for n in range(6)]
    assert answers == [422] * 5 + [429]


def test_only_as_many_forwarded_entries_as_proxies_are_trusted(app_behind, fake_wechat):
    client = app_behind(1).test_client()
    # The client writes its own entry first; the load balancer appends the real address.
    answers = [_guess_binding(client, f"10.9.9.{n}, 203.0.113.7").status_code
               for n in range(6)]
    assert answers == [422] * 5 + [429]


def test_signed_in_calls_are_limited_per_address_too(client, sign_in, services):
    session = sign_in("demo-trainee")
    # This address has made its generous allowance of signed-in calls this minute.
    services.limiter.hit(SIGNED_IN_ADDRESS_RATE, "api", "ip-signed-in", "127.0.0.1",
                         cost=SIGNED_IN_ADDRESS_RATE.amount)
    limited = client.get("/api/v1/me", headers=_auth(session))
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # The same person from another address: their own allowance still holds.
    elsewhere = client.get("/api/v1/me", headers=_auth(session),
                           environ_base={"REMOTE_ADDR": "198.51.100.20"})
    assert elsewhere.status_code == 200


# --- a JSON body's values have their JSON types --------------------------------------------

def _vouchers(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count(Voucher.id)))


@pytest.mark.parametrize("value", [True, "1", 1.0, "１"])
def test_a_course_id_must_be_a_number(trainee_api, db, value):
    before = _vouchers(db)
    answer = trainee_api.post("/vouchers", {"course_id": value})
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"]["field"] == "course_id"
    assert _vouchers(db) == before


def test_yes_is_no_boolean_and_one_is_no_consent(api_as, newcomer_api):
    staff = api_as("demo-staff")
    marked = staff.post("/staff/marks", {"voucher_number": "PX1", "present": "yes",
                                         "reason": "x"})
    assert marked.status_code == 422 and marked.get_json()["error"]["field"] == "present"
    form = {"name": "王小二", "id_number": id_number(born="19880512", seq="013"),
            "phone": "13912345678",
            "township": "luoxiong", "household_kind": "rural", "residence": "luoxiong",
            "job_place": "luoxiong", "intent": "local", "groups": ["poverty_alleviated"],
            "draws_pension": False}
    newcomer: Api = newcomer_api("o-strict")
    for consent in (1, "true"):
        answer = newcomer.post("/me/registration", {**form, "consent": consent})
        assert answer.status_code == 422 and answer.get_json()["error"]["field"] == "consent"
    assert newcomer.get("/me").get_json()["registered"] is False
    drawn = newcomer.post("/me/registration", {**form, "draws_pension": 0, "consent": True})
    assert drawn.status_code == 422 and drawn.get_json()["error"]["field"] == "draws_pension"
