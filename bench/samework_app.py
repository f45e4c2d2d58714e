"""The yardstick of issue 19: the same work as Peixun's callback for a `课程`, done with nothing
else. Flask + wechatpy; one Redis Lua script before the reply (nonce, de-duplication mark,
per-sender rate count, dialogue state read), one SELECT of the sender by openid on a persistent
autocommit psycopg connection, a course list read once per process, one Redis pipeline after
(the answer kept for retries, the state). No ORM, no pool, no bot, no i18n, no audit.

And the same work as a trainee's CHECKIN scan of the class display's code, its common case (the
first scan, in time and in place): the code's signature checked, the sender and whether they
are an inspector read, then one transaction with its statement limit: one row of the session
with its place in the course and the scanner with their redeemed voucher, the mark inserted
unless one is there, its audit row (as Peixun's models.attendance.check_in)."""

import hashlib
import hmac
import json
import math
import os
from datetime import UTC, datetime, timedelta, timezone

import psycopg
from flask import Flask, Response, abort, request
from redis import Redis
from wechatpy import parse_message
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

TOKEN = os.environ.get("WECHAT_TOKEN", "peixun-dev-token")
# Peixun's libpq-style URL; its own Redis db so neither sees the other's marks and counters.
DSN = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/peixun_bench")
kv = Redis.from_url(os.environ.get("SAMEWORK_REDIS_URL", "redis://127.0.0.1:6379/9"))

# As webhooks/dedup.py's _ADMIT: KEYS nonce, seen, rate, state; ARGV de-dup s, rate window s.
ADMIT = kv.register_script("""
if not redis.call('SET', KEYS[1], KEYS[2], 'NX', 'EX', ARGV[1])
    and redis.call('GET', KEYS[1]) ~= KEYS[2] then return {'replay', 0, false} end
if not redis.call('SET', KEYS[2], 'pending', 'NX', 'EX', 30) then return {'retry', 0, false} end
local hits = redis.call('INCR', KEYS[3])
if hits == 1 then redis.call('EXPIRE', KEYS[3], ARGV[2]) end
return {'first', hits, redis.call('GET', KEYS[4])}
""")

# As Peixun's class display codes (models.codes.RotatingCode, prefix PXC, 30 s), on the demo's key.
CODE_KEY = hashlib.sha256(("PXC:" + os.environ.get(
    "SECRET_KEY", "dev-secret-key-not-for-production")).encode()).digest()
LOCAL = timezone(timedelta(hours=8))
# The session, its course's rules and place, and the scanner with their redeemed voucher: one row.
SCAN = """SELECT s.day, s.starts, s.opened_at, c.name, c.lat, c.lng, c.radius_m,
  (SELECT count(*) FROM class_sessions o WHERE o.course_id = s.course_id
     AND (o.day < s.day OR (o.day = s.day AND o.starts <= s.starts))),
  (SELECT count(*) FROM class_sessions o WHERE o.course_id = s.course_id),
  p.id, p.last_lat, p.last_lng, p.located_at, v.id
  FROM class_sessions s JOIN courses c ON c.id = s.course_id
  LEFT JOIN persons p ON p.openid = %s
  LEFT JOIN vouchers v ON v.person_id = p.id AND v.course_id = s.course_id
    AND v.status = 'redeemed'
  WHERE s.id = %s"""
MARK = """INSERT INTO attendance (session_id, day, person_id, voucher_id, is_present,
  checked_in_at, hours, how, location_source, location_lat, location_lng, located_at)
  VALUES (%s, %s, %s, %s, true, %s, 4, 'scan', 'wechat_event', %s, %s, %s)
  ON CONFLICT DO NOTHING RETURNING id"""
AUDIT = """INSERT INTO audit_log (at, actor_id, channel, action, target_type, target_id, after)
  VALUES (%s, %s, 'wechat', 'attendance.check_in', 'attendance', %s, %s)"""

app = Flask(__name__)
_db: psycopg.Connection | None = None
_courses: str | None = None


def db() -> psycopg.Connection:
    # One connection per worker, opened after gunicorn's fork, kept for the process's life.
    global _db
    if _db is None or _db.closed:
        _db = psycopg.connect(DSN, autocommit=True)
    return _db


def courses() -> str:
    global _courses
    if _courses is None:
        names = [row[0] for row in db().execute("SELECT name FROM courses ORDER BY id LIMIT 10")]
        _courses = f"开放报名的课程（共{len(names)}个）：\n" + "\n".join(
            f"{n}. {name}" for n, name in enumerate(names, 1))
    return _courses


@app.post("/wechat")
def receive() -> Response:
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    try:
        check_signature(TOKEN, args.get("signature", ""), timestamp, nonce)
    except InvalidSignatureException:
        abort(403)
    message = parse_message(request.get_data())
    sender = message.source
    seen = f"sw:seen:{message.id}" if message.id else event_key(
        sender, int(message.create_time.timestamp()), getattr(message, "scan_result", ""))
    verdict, hits, _state = ADMIT(keys=[f"sw:nonce:{timestamp}:{nonce}", seen,
                                        f"sw:rate:{sender}", f"sw:state:{sender}"],
                                  args=[300, 60])
    if verdict == b"replay":
        abort(403)
    if verdict == b"retry":
        return Response(kv.get(seen) or b"success", mimetype="application/xml")
    person = db().execute("SELECT id FROM persons WHERE openid = %s", (sender,)).fetchone()
    if message.type == "event" and getattr(message, "event", "") == "scancode_waitmsg":
        text = check_in(person[0], sender, message.scan_result)
    else:
        text = courses() if int(hits) <= 60 else "消息太多，请稍后再试。"
    reply = TextReply(content=text, message=message).render()
    with kv.pipeline(transaction=False) as pipe:
        pipe.set(seen, reply, ex=300).set(f"sw:state:{sender}", "courses:1", ex=3600).execute()
    return Response(reply, mimetype="application/xml")


def event_key(sender: str, created: int, scanned: str) -> str:
    """An event's de-duplication key (events have no MsgId): sender, time and what was scanned,
    as webhooks/dedup.py's."""
    return f"sw:seen:{sender}:{created}:{hashlib.sha1(scanned.encode()).hexdigest()[:16]}"


def check_in(person_id: int, sender: str, code: str) -> str:
    now = datetime.now(UTC)
    prefix, subject, window, signature = code.split(":")
    digest = hmac.new(CODE_KEY, f"{subject}:{window}".encode(), hashlib.sha256).hexdigest()[:20]
    if (prefix != "PXC" or not hmac.compare_digest(signature, digest)
            or int(now.timestamp()) // 30 - int(window) > 1):
        return "二维码已失效"
    db().execute("SELECT id FROM inspectors WHERE person_id = %s", (person_id,)).fetchone()
    with db().transaction():
        db().execute("SET LOCAL statement_timeout = 4000")
        row = db().execute(SCAN, (sender, int(subject))).fetchone()
        (day, starts, opened, course, lat, lng, radius, number, total,
         person_id, plat, plng, located, voucher_id) = row
        begins = datetime.combine(day, starts, tzinfo=LOCAL)
        if opened is None or voucher_id is None or not (
                begins - timedelta(minutes=15) <= now <= begins + timedelta(minutes=30)):
            return "签到失败"
        metres = 6371000 * math.hypot(math.radians(plat - lat),
                                      math.radians(plng - lng) * math.cos(math.radians(lat)))
        if metres > radius:
            return "距离太远"
        mark = db().execute(MARK, (int(subject), day, person_id, voucher_id, now, plat, plng,
                                   located)).fetchone()
        if mark is None:
            return "已经签到过了"
        db().execute(AUDIT, (now, person_id, mark[0], json.dumps(
            {"session": int(subject), "location": "wechat_event"})))
    return (f"{now.astimezone(LOCAL):%H:%M}签到成功 ✔ {course}，第{number}次课（共{total}次）。")
