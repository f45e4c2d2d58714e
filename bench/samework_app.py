"""The yardstick of issue 19: the same work as Peixun's callback for a `课程`, done with nothing
else. Flask + wechatpy; one Redis Lua script before the reply (nonce, de-duplication mark,
per-sender rate count, dialogue state read), one SELECT of the sender by openid on a persistent
autocommit psycopg connection, a course list read once per process, one Redis pipeline after
(the answer kept for retries, the state). No ORM, no pool, no bot, no i18n, no audit."""

import os

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
    seen, sender = f"sw:seen:{message.id}", message.source
    verdict, hits, _state = ADMIT(keys=[f"sw:nonce:{timestamp}:{nonce}", seen,
                                        f"sw:rate:{sender}", f"sw:state:{sender}"],
                                  args=[300, 60])
    if verdict == b"replay":
        abort(403)
    if verdict == b"retry":
        return Response(kv.get(seen) or b"success", mimetype="application/xml")
    db().execute("SELECT id FROM persons WHERE openid = %s", (sender,)).fetchone()
    text = courses() if int(hits) <= 60 else "消息太多，请稍后再试。"
    reply = TextReply(content=text, message=message).render()
    with kv.pipeline(transaction=False) as pipe:
        pipe.set(seen, reply, ex=300).set(f"sw:state:{sender}", "courses:1", ex=3600).execute()
    return Response(reply, mimetype="application/xml")
