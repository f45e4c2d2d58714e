"""A local stand-in for the WeChat API endpoints Peixun calls, for tests and `make run`.

It keeps what it was sent, so tests assert on it, and can be told to fail the way WeChat fails
(an errcode inside a 200). Nothing in it is used in production.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

logger = logging.getLogger(__name__)


@dataclass
class FakeState:
    sent: list[dict[str, Any]] = field(default_factory=list)
    token_fetches: int = 0
    current_token: str | None = None
    # openids outside the 48-hour customer-message window
    silent_openids: set[str] = field(default_factory=set)
    # errcodes to answer the next customer-message calls with, in order
    fail_next: list[int] = field(default_factory=list)
    menus: list[dict[str, Any]] = field(default_factory=list)
    qrcodes: list[dict[str, Any]] = field(default_factory=list)
    # code2session calls as sent (appid, secret, js_code, grant_type), and the codes spent
    logins: list[dict[str, Any]] = field(default_factory=list)
    used_codes: set[str] = field(default_factory=set)
    # user-info API: the unionid (or None) of each follower it knows (others get errcode 40003),
    # errcodes to answer the next calls with, in order, and what was asked
    unionids: dict[str, str | None] = field(default_factory=dict)
    fail_user_info: list[int] = field(default_factory=list)
    user_infos: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _tokens: itertools.count = field(default_factory=lambda: itertools.count(1))

    def new_token(self) -> str:
        self.token_fetches += 1
        self.current_token = f"fake-token-{next(self._tokens)}"
        return self.current_token

    def reset(self) -> None:
        with self.lock:
            self.sent.clear()
            self.menus.clear()
            self.qrcodes.clear()
            self.logins.clear()
            self.used_codes.clear()
            self.unionids.clear()
            self.fail_user_info.clear()
            self.user_infos.clear()
            self.silent_openids.clear()
            self.fail_next.clear()
            self.token_fetches = 0
            self.current_token = None


def create_fake_wechat(state: FakeState | None = None) -> Flask:
    state = state or FakeState()
    app = Flask("fake_wechat")
    app.extensions["fake_state"] = state
    _add_message_routes(app, state)
    _add_user_routes(app, state)

    @app.get("/_fake/sent")
    def show_sent():
        return jsonify(sent=state.sent, menus=state.menus, token_fetches=state.token_fetches)

    return app


def _token_error(state: FakeState):
    """WeChat's answer to a call without the current access token, or None."""
    token = request.args.get("access_token")
    if token is None or token != state.current_token:
        return jsonify(errcode=40001, errmsg="invalid credential, access_token is invalid")
    return None


def _add_message_routes(app: Flask, state: FakeState) -> None:
    """The access token, customer and template messages, the menu and QR codes."""

    @app.get("/cgi-bin/token")
    def token():
        with state.lock:
            return jsonify(access_token=state.new_token(), expires_in=7200)

    @app.post("/cgi-bin/message/custom/send")
    def custom_send():
        if (error := _token_error(state)) is not None:
            return error
        body = request.get_json(force=True)
        with state.lock:
            if state.fail_next:
                code = state.fail_next.pop(0)
                return jsonify(errcode=code, errmsg=f"fake error {code}")
            if body.get("touser") in state.silent_openids:
                return jsonify(errcode=45015, errmsg="response out of time limit")
            state.sent.append({"kind": "customer", **body})
        return jsonify(errcode=0, errmsg="ok")

    @app.post("/cgi-bin/message/template/send")
    def template_send():
        if (error := _token_error(state)) is not None:
            return error
        body = request.get_json(force=True)
        with state.lock:
            state.sent.append({"kind": "template", **body})
        return jsonify(errcode=0, errmsg="ok", msgid=len(state.sent))

    @app.post("/cgi-bin/menu/create")
    def menu_create():
        if (error := _token_error(state)) is not None:
            return error
        with state.lock:
            state.menus.append(request.get_json(force=True))
        return jsonify(errcode=0, errmsg="ok")

    @app.post("/cgi-bin/qrcode/create")
    def qrcode_create():
        if (error := _token_error(state)) is not None:
            return error
        body = request.get_json(force=True)
        scene = body.get("action_info", {}).get("scene", {})
        key = scene.get("scene_str") or str(scene.get("scene_id"))
        with state.lock:
            state.qrcodes.append(body)
        # WeChat answers a ticket and the URL the QR code encodes.
        return jsonify(ticket=f"ticket-{len(state.qrcodes)}",
                       expire_seconds=body.get("expire_seconds"),
                       url=f"http://weixin.qq.com/q/fake-{key}")


def _add_user_routes(app: Flask, state: FakeState) -> None:
    """Who a follower is (user info, unionid) and the mini-program's login (code2session)."""

    @app.get("/cgi-bin/user/info")
    def user_info():
        if (error := _token_error(state)) is not None:
            return error
        with state.lock:
            asked = {k: v for k, v in request.args.items() if k != "access_token"}
            state.user_infos.append(asked)
            if state.fail_user_info:
                code = state.fail_user_info.pop(0)
                return jsonify(errcode=code, errmsg=f"fake error {code}")
            openid = asked.get("openid", "")
            if openid not in state.unionids:
                return jsonify(errcode=40003, errmsg="invalid openid")
            unionid = state.unionids[openid]
        answer = {"subscribe": 1, "openid": openid, "language": "zh_CN",
                  "subscribe_time": 1764000000}
        if unionid:  # None: the account is bound to no open-platform account
            answer["unionid"] = unionid
        return jsonify(answer)

    @app.get("/sns/jscode2session")
    def code_to_session():
        # A wx.login code maps to a user deterministically: "code-<x>" is openid "mp-<x>" with
        # unionid "union-<x>"; "nounion-<x>" is "mp-<x>" without one. A code works once, like
        # WeChat's; "code-<x>~2" is another code of the same user (anything after "~").
        with state.lock:
            state.logins.append(dict(request.args))
            code = request.args.get("js_code", "")
            kind, _, user = code.partition("~")[0].partition("-")
            if kind not in ("code", "nounion") or not user or code in state.used_codes:
                return jsonify(errcode=40029, errmsg="invalid code")
            state.used_codes.add(code)
            n = len(state.used_codes)
        answer = {"openid": f"mp-{user}", "session_key": f"fake-session-key-{user}-{n}"}
        if kind == "code":
            answer["unionid"] = f"union-{user}"
        return jsonify(answer)


class FakeWeChatServer:
    """The fake on a free local port, in a thread."""

    def __init__(self) -> None:
        self.state = FakeState()
        self._server = make_server("127.0.0.1", 0, create_fake_wechat(self.state), threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeWeChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
