"""Print the SQL statements and Redis commands that one signed 课程 message costs.

Each is a round trip, and round trips are what the callback spends its time on (see
BENCHMARKS.md). Run against the database `make bench` leaves behind:

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/peixun_bench \
    REDIS_URL=redis://127.0.0.1:6379/8 WECHAT_TOKEN=peixun-bench-token \
    .venv/bin/python bench/roundtrips.py
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections import Counter
from pathlib import Path

import redis.client
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from wsgi import app  # after the path is set

trips: list[tuple[str, str]] = []
engine = app.extensions["peixun"].engine
event.listen(engine, "before_cursor_execute",
             lambda _conn, _cur, sql, *_: trips.append(("sql", " ".join(sql.split())[:90])))
event.listen(engine, "commit", lambda _conn: trips.append(("sql", "COMMIT")))
# The sender's read goes on the process's kept connection (models.direct), which SQLAlchemy's
# events do not see: counted here.
direct = app.extensions["peixun"].direct
_first = direct.first
direct.first = lambda statement, params: (
    trips.append(("sql", " ".join(str(statement).split())[:60] + "… (kept connection)")),
    _first(statement, params))[1]
# A checkout pings only a connection idle for over models.base.PING_AFTER_SECONDS (one more
# round trip then); counted here as a checkout.
event.listen(engine.pool, "checkout", lambda *_: trips.append(("sql", "(pool checkout)")))

_execute = redis.client.Redis.execute_command


def _counted(self, *args, **options):
    trips.append(("redis", " ".join(str(a) for a in args[:2])))
    return _execute(self, *args, **options)


redis.client.Redis.execute_command = _counted
_execute_pipeline = redis.client.Pipeline.execute


def _counted_pipeline(self, *args, **options):
    # A pipeline's commands go to Redis together: one round trip.
    names = ", ".join(str(command[0][0]) for command in self.command_stack)
    trips.append(("redis", f"pipeline: {names}"))
    return _execute_pipeline(self, *args, **options)


redis.client.Pipeline.execute = _counted_pipeline


def send(client, token: str, openid: str, msg_id: int) -> str:
    timestamp, nonce = str(int(time.time())), str(msg_id % 10**9)
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    body = (f"<xml><ToUserName><![CDATA[gh_peixun_demo]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{timestamp}"
            f"</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[课程]]>"
            f"</Content><MsgId>{msg_id}</MsgId></xml>")
    query = f"signature={signature}&timestamp={timestamp}&nonce={nonce}&openid={openid}"
    return client.post(f"/wechat?{query}", data=body.encode(),
                       content_type="text/xml").get_data(as_text=True)


def main() -> None:
    token = os.environ.get("WECHAT_TOKEN", "peixun-dev-token")
    client, openid, first = app.test_client(), f"oTrips{time.time_ns()}", time.time_ns()
    for label, msg_id in (("first contact", first), ("returning sender", first + 1)):
        trips.clear()
        reply = send(client, token, openid, msg_id)
        print(f"--- {label}: {dict(Counter(kind for kind, _ in trips))}"
              f"{'' if '开放报名的课程' in reply else '  (NOT the course list!)'}")
        for kind, what in trips:
            print(f"    {kind:5} {what}")


if __name__ == "__main__":
    main()
