"""The terminal chat simulator against the real app served over HTTP: what a person at the
terminal reads, line by line, in plain and in safe mode."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from devtools.chat import NO_REPLY, run
from webhooks.app import create_app

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx1234567890abcdef"


@pytest.fixture
def serve() -> Iterator:
    """Serve an app on a free local port, as `make run` would; returns its callback URL."""
    running = []

    def start(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}/wechat"

    yield start
    for server, thread in running:
        server.shutdown()
        thread.join()


@pytest.fixture
def chat(serve, app, config, clock):
    """Run the simulator over some typed lines and return everything it printed."""
    url = serve(app)

    def type_lines(lines: list[str], **options) -> str:
        out = io.StringIO()
        options = {"url": url, "token": config.wechat_token,
                   "now": lambda: clock.now().timestamp(), **options}
        run(lines, out, **options)
        return out.getvalue()

    return type_lines


@pytest.fixture
def talk(chat):
    """A dialogue as a transcript: [(what the person types, words the reply must contain)]."""

    def check(openid: str, lines: list[tuple[str, str]]) -> None:
        for said, expected in lines:
            shown = chat([said], openid=openid)
            assert expected in shown, f"after {said!r}: {expected!r} not in\n{shown}"

    return check


def test_courses_by_word_by_menu_and_then_details(talk):
    talk("o-chat-courses", [
        ("课程", "开放报名的课程"),
        ("/click COURSES", "开放报名的课程"),
        ("1", "机构："),
    ])


def test_follow_welcomes_and_unfollow_says_nothing(talk):
    talk("o-chat-follow", [
        ("/follow", "欢迎"),
        ("/unfollow", NO_REPLY),
    ])


def test_piped_lines_print_only_the_replies(chat):
    shown = chat(["课程", "", "1", "/quit", "课程"], openid="o-chat-pipe")
    assert "> " not in shown  # no prompts when not at a terminal
    assert shown.count("开放报名的课程") == 1  # nothing after /quit is sent
    assert "机构：" in shown


def test_the_other_events_reach_the_bot(chat):
    shown = chat(["/follow qr-township-3", "/voice 课程", "/loc 24.88 104.31",
                  "/scan CHECKIN session-1", "/as o-chat-other", "/as"],
                 openid="o-chat-events")
    assert "开放报名的课程" in shown  # the spoken word was understood
    assert "(now talking as o-chat-other)" in shown
    assert "usage: /as OPENID" in shown
    assert "server said" not in shown


def test_unknown_command_shows_the_help(chat):
    shown = chat(["/dance"])
    assert "/follow [scene]" in shown and "/quit" in shown


def test_wrong_token_is_refused(chat):
    assert "server said 403" in chat(["课程"], token="not-the-token")


def test_stale_timestamp_is_refused(chat, clock):
    assert "server said 403" in chat(["课程"], now=lambda: clock.now().timestamp() - 600)


@pytest.fixture
def safe_chat(serve, config, stack, sessions, kv, clock):
    safe = config.but(wechat_encoding_aes_key=AES_KEY, wechat_app_id=APP_ID)
    url = serve(create_app(safe, engine=stack.engine, sessions=sessions, kv=kv, clock=clock))

    def type_lines(lines: list[str], **options) -> str:
        out = io.StringIO()
        options = {"url": url, "token": safe.wechat_token, "aes_key": AES_KEY,
                   "app_id": APP_ID, "now": lambda: clock.now().timestamp(), **options}
        run(lines, out, openid="o-chat-safe", **options)
        return out.getvalue()

    return type_lines


def test_safe_mode_encrypts_and_reads_the_decrypted_reply(safe_chat):
    assert "开放报名的课程" in safe_chat(["课程"])


def test_safe_mode_for_another_account_is_refused(safe_chat):
    # The app id only travels inside the ciphertext: a refusal shows the message was encrypted.
    assert "server said 403" in safe_chat(["课程"], app_id="wxanotherappid000")
