"""Fault benchmark (issue 15): the product under a steady stream of signed WeChat messages while
its parts fail, counting what was lost, sent twice, answered 5xx, and how long it took to recover.

    .venv/bin/python -m bench.faults            # all faults; or --only a,c,g

It starts everything it uses itself, on 127.0.0.1 only: a private PostgreSQL (initdb into a
temporary directory, port 55432 or a free one), a private Redis (port 56379 or a free one, no
persistence), the fake WeChat API (devtools/fake_wechat.py, in a thread here: it records every
message sent; each call takes 30 ms, as real ones take tens of milliseconds), gunicorn with 2
workers (as `make serve` with PEIXUN_DEMO=1) and the outbox worker (`flask --app wsgi worker`).
Every loop is bounded; on the end, an error or Ctrl-C it stops its children and removes its
temporary directory. The table goes to the screen and to bench/out/faults.txt.

The load: about 20 signed text messages a second from 300 followers, each with its own nonce and
MsgId, retried as WeChat retries (no answer within 5 s: the same request again, up to 3 times),
and staff redeeming vouchers by scanning (each redemption queues a notice to the holder).

Faults, one scenario each:
  a. Redis killed (SIGKILL) for 20 s, then started again.
  b. PostgreSQL restarted (pg_ctl restart -m fast) while the worker sends 200 messages.
  c. The outbox worker SIGKILLed at the 70th of 200 messages, then a new worker started.
  d. Two workers on one queue of 200 messages.
  e. A gunicorn worker SIGKILLed while it holds a 领券 (the course row is locked from here,
     so the claim waits), then WeChat's retries.
  f. A 领券 that takes 12 s (the course row locked from here for 12 s), with WeChat's retries.
  g. Redis down: one sender sends 61 messages within a minute; at most 60 may be answered
     (each process counts its share, so which one is refused depends on the spread).

Columns: replies ok / apologies / lost (no answer, or an empty one, after WeChat's retries),
outbox messages lost (never delivered) / duplicated (delivered 2+ times) / uncertain (marked so by
the worker), 5xx answers, and seconds from the fault's end until replies and the outbox are
normal again.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, select, text

from bench.servers import wait_until_answering

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BIN = Path(sys.executable).parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port(preferred: int) -> int:
    """``preferred`` when nothing listens on it on 127.0.0.1, else one the system picks: other
    runs on this machine (tests, another benchmark) may hold it."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port")


PG_PORT, REDIS_PORT, WEB_PORT = free_port(55432), free_port(56379), free_port(5088)
TOKEN, SECRET, DATA_KEY = "faults-token", "faults-secret", "faults-data-key"
DB_URL = f"postgresql://postgres@127.0.0.1:{PG_PORT}/peixun"
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"
SENDERS = 300
RATE = 20  # messages a second
WECHAT_TIMEOUT = 5.0  # WeChat waits this long for an answer, then retries
WECHAT_RETRIES = 3
API_SECONDS = 0.03  # each call to the fake WeChat API takes this long
LIST_MARK = "开放报名的课程"  # the course list every load message should get
APOLOGY = "出了点问题"  # part of the apology's Chinese
SLOW_DOWN = "您发消息太快了"
VOUCHER_NUMBER = re.compile(r"PX\d{10}")


def log(*args: object) -> None:
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def sign(timestamp: str, nonce: str) -> str:
    # As WeChat does it (and tests/wechat_server.py): sha1 of the three, sorted and joined.
    return hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# The private stack
# ---------------------------------------------------------------------------------------------

class Stack:
    """PostgreSQL, Redis, the fake WeChat API, gunicorn and outbox workers, all children of
    this process (each in a session of its own, so one kill reaches a server and its workers)."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="peixun-faults-"))
        self.pgdata = self.tmp / "pg"
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
            user = pwd.getpwnam("postgres")
            os.chown(self.tmp, user.pw_uid, user.pw_gid)
        self.redis: subprocess.Popen | None = None
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.fake = None
        self.env: dict[str, str] = {}
        self.logs: list = []

    # PostgreSQL --------------------------------------------------------------------------------
    def pg_ctl(self, *args: str) -> None:
        subprocess.run([*self.as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata),
                        "-l", str(self.tmp / "pg.log"), "-w", "-t", "30", *args],
                       check=True, stdout=subprocess.DEVNULL)

    def start_postgres(self) -> None:
        subprocess.run([*self.as_postgres, str(PG_BIN / "initdb"), "-D", str(self.pgdata),
                        "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL)
        self.pg_ctl("-o", f"-p {PG_PORT} -k {self.tmp} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off -c max_connections=200", "start")
        admin = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{PG_PORT}/postgres",
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("CREATE DATABASE peixun"))
        admin.dispose()

    def restart_postgres(self) -> None:
        self.pg_ctl("-m", "fast", "restart")

    # Redis --------------------------------------------------------------------------------------
    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        import redis
        for _ in range(100):
            try:
                redis.Redis.from_url(REDIS_URL).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill_redis(self) -> None:
        if self.redis and self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait(10)

    # The fake WeChat API and the app -----------------------------------------------------------
    def start_fake(self) -> None:
        from devtools.fake_wechat import FakeWeChatServer
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per call otherwise
        self.fake = FakeWeChatServer()
        # WeChat's API takes tens of milliseconds, the fake none: so that a worker spends its
        # time inside calls, as it does for real, every call waits API_SECONDS first.
        self.fake._server.app = slowed(self.fake._server.app, API_SECONDS)
        self.fake.__enter__()

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PEIXUN_ENV"}
        env.update(DATABASE_URL=DB_URL, REDIS_URL=REDIS_URL, PEIXUN_DEMO="1",
                   SECRET_KEY=SECRET, PEIXUN_DATA_KEY=DATA_KEY, WECHAT_TOKEN=TOKEN,
                   WECHAT_API_BASE_URL=self.fake.base_url, HOST="127.0.0.1",
                   PORT=str(WEB_PORT), WORKERS="2")
        self.env = env
        return env

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen:
        out = open(OUT / f"faults-{name}.log", "a")  # noqa: SIM115 — closed at stop()
        self.logs.append(out)
        return subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def start_web(self) -> None:
        # The command of `make serve` (PEIXUN_DEMO=1), with the venv's gunicorn.
        self.web = self._spawn([str(BIN / "gunicorn"), "--workers", "2", "--bind",
                                f"127.0.0.1:{WEB_PORT}", "wsgi:app"], "gunicorn")
        wait_until_answering(f"http://127.0.0.1:{WEB_PORT}/wechat", tries=200, pause=0.1,
                             timeout=2,
                             failure="gunicorn did not start: see bench/out/faults-gunicorn.log")

    def web_workers(self) -> set[int]:
        pids = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if self.web and int(fields[1]) == self.web.pid:
                pids.add(int(stat.parent.name))
        return pids

    def start_worker(self) -> subprocess.Popen:
        # The command of `make worker`.
        worker = self._spawn([str(BIN / "flask"), "--app", "wsgi", "worker"], "worker")
        self.workers.append(worker)
        return worker

    def stop_worker(self, worker: subprocess.Popen, *, kill: bool = False) -> None:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(5)
        self.workers.remove(worker)

    def stop(self) -> None:
        for proc in [*self.workers, self.web, self.redis]:
            if proc is not None and proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
        if (self.pgdata / "postmaster.pid").exists():
            subprocess.run([*self.as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata),
                            "-m", "immediate", "-w", "stop"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if self.fake is not None:
            self.fake.__exit__(None, None, None)
        for out in self.logs:
            out.close()
        if (self.tmp / "pg.log").exists():
            shutil.copy(self.tmp / "pg.log", OUT / "faults-postgres.log")
        shutil.rmtree(self.tmp, ignore_errors=True)

    # What the fake WeChat API was sent ----------------------------------------------------------
    def sent(self) -> list[dict]:
        with self.fake.state.lock:
            return list(self.fake.state.sent)


def slowed(app, seconds: float):
    def wsgi(environ, start_response):
        time.sleep(seconds)
        return app(environ, start_response)
    return wsgi


def content(message: dict) -> str:
    if message.get("kind") == "customer":
        return (message.get("text") or {}).get("content", "")
    return str(message.get("data", ""))


# ---------------------------------------------------------------------------------------------
# Seed: the demo county, vouchers to redeem, 300 followers, people who will claim a voucher
# ---------------------------------------------------------------------------------------------

def seed(redeem_vouchers: int, claimants: int) -> dict:
    """Through the domain, as bench/scenarios.py seeds: the demo county, a staff member of an
    institution with a course running now and ``redeem_vouchers`` holders of its vouchers, the
    300 followers who send the load, and ``claimants`` registered people who will claim a
    voucher of a course starting next week."""
    from sqlalchemy.orm import sessionmaker

    from bench.people import register_bench_person
    from cli.database import migrate
    from models.audit import Channel
    from models.base import make_engine
    from models.catalogue import CertificateKind, Course
    from models.clock import LOCAL_TZ
    from models.courses import CourseSpec, publish_course
    from models.demo import load_demo
    from models.invitations import bind_by_invitation
    from models.persons import meet
    from models.pii import Vault
    from models.staff import StaffMember, invite_staff
    from models.vouchers import claim_voucher

    engine = make_engine(DB_URL)
    migrate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    now = datetime.now(LOCAL_TZ)
    vault = Vault(DATA_KEY)

    def course(code: str, name: str, day, start, end) -> CourseSpec:
        return CourseSpec(
            code=code, institution_code="lp-pes", category_code="construction", name=name,
            name_en=code, occupation=f"工种{name}", occupation_en=code,
            certificate_kind=CertificateKind.COMPLETION, certificate_level=None,
            theory_hours=0, practice_hours=1, capacity=60, fee_yuan=0,
            is_entrepreneurship=False, township_code="luoxiong", address="压测", lat=24.885,
            lng=104.309, radius_m=500, sessions=[(day, start, end)])

    with sessions.begin() as db:
        load_demo(db, vault=vault, now=now, today=now.date())
        start = (now - timedelta(minutes=5)).replace(second=0, microsecond=0)
        end = min(start + timedelta(hours=1), start.replace(hour=23, minute=59))
        publish_course(db, spec=course("faults-redeem", "核销压测班", start.date(), start.time(),
                                       end.time()), actor_id=None, channel=Channel.CLI, now=now)
        week = (now + timedelta(days=7)).date()
        publish_course(db, spec=course("faults-claim", "领券压测班", week,
                                       datetime(2000, 1, 1, 9).time(),
                                       datetime(2000, 1, 1, 10).time()),
                       actor_id=None, channel=Channel.CLI, now=now)
    with sessions.begin() as db:
        staff = meet(db, openid="faults-staff", now=now)
        bind_by_invitation(db, role=StaffMember, person_id=staff.id,
                   token=invite_staff(db, institution_code="lp-pes", now=now), now=now)
        redeem = db.scalar(select(Course.id).where(Course.code == "faults-redeem"))
        vouchers = []
        for n in range(redeem_vouchers):
            openid = f"faults-holder-{n}"
            register_bench_person(db, vault=vault, openid=openid, n=10000 + n, now=now)
            vouchers.append(claim_voucher(db, openid=openid, course_id=redeem,
                                          channel=Channel.CLI, now=now, today=now.date()).id)
        for n in range(claimants):
            register_bench_person(db, vault=vault, openid=f"faults-claimant-{n}", n=20000 + n,
                                  now=now)
        for n in range(SENDERS):
            meet(db, openid=f"oBench{n:06d}", now=now)
        claim = db.scalar(select(Course.id).where(Course.code == "faults-claim"))
    engine.dispose()
    return {"staff": ["faults-staff"], "vouchers": vouchers, "claim_course": claim}


# ---------------------------------------------------------------------------------------------
# WeChat's side: signed posts with retries
# ---------------------------------------------------------------------------------------------

@dataclass
class Delivery:
    """One message as WeChat delivers it: the first post and up to 3 retries."""

    began: float
    answer: str | None = None  # the body of the 200 that ended it; None: never answered
    answered_at: float | None = None
    attempts: int = 0
    errors_5xx: int = 0
    replies: list[str] = field(default_factory=list)


_msg_ids = itertools.count(int(time.time()) * 1000)


def text_xml(openid: str, content_text: str, msg_id: int) -> str:
    return ("<xml><ToUserName><![CDATA[gh_peixun_demo]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content_text}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def scan_xml(openid: str, key: str, result: str) -> str:
    ts = int(time.time())
    return (f"<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>"
            f"<CreateTime>{ts}</CreateTime><MsgType>event</MsgType>"
            f"<Event>scancode_waitmsg</Event><EventKey>{key}</EventKey><ScanCodeInfo>"
            f"<ScanType>qrcode</ScanType><ScanResult>{result}</ScanResult></ScanCodeInfo></xml>")


def deliver(xml: str, http: requests.Session | None = None) -> Delivery:
    """Post as WeChat does: one signed query for the message (its own nonce), and when no 200
    comes within 5 s, the same request again, at most 3 more times. A 200 ends it: WeChat takes
    any answer (an empty one or "success" too) as the end of that message."""
    http = http or requests.Session()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    params = {"signature": sign(timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    done = Delivery(began=time.monotonic())
    for attempt in range(1 + WECHAT_RETRIES):
        start = done.began + attempt * WECHAT_TIMEOUT
        if (wait := start - time.monotonic()) > 0:
            time.sleep(wait)
        done.attempts += 1
        try:
            response = http.post(f"http://127.0.0.1:{WEB_PORT}/wechat", params=params,
                                 data=xml.encode(), timeout=WECHAT_TIMEOUT)
        except requests.RequestException:
            continue
        if response.status_code >= 500:
            done.errors_5xx += 1
            continue
        if response.status_code == 200:
            done.answer = reply_text(response.text)
            done.answered_at = time.monotonic()
            done.replies.append(done.answer)
            return done
    return done


def reply_text(body: str) -> str:
    found = re.search(r"<Content><!\[CDATA\[(.*?)\]\]></Content>", body, re.S)
    return found.group(1) if found else ""  # "success" or empty: no reply


class Load:
    """About RATE messages a second (课程) from SENDERS followers, each delivered with retries;
    and, when ``redeem`` is given, a staff member redeeming one of those vouchers a second."""

    def __init__(self, redeem: list[int] | None = None, staff: str | None = None) -> None:
        self.stop = threading.Event()
        self.results: list[Delivery] = []
        self.redemptions: list[tuple[int, Delivery]] = []
        self.redeem = list(redeem or [])
        self.staff = staff
        self.pool = ThreadPoolExecutor(128)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._messages, daemon=True)]
        if self.redeem:
            self.threads.append(threading.Thread(target=self._redeem, daemon=True))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
        self.pool.shutdown(wait=True)  # each delivery ends within 4 × 5 s

    def _one(self, openid: str) -> None:
        result = deliver(text_xml(openid, "课程", next(_msg_ids)))
        with self.lock:
            self.results.append(result)

    def _messages(self) -> None:
        for n in itertools.count():
            if self.stop.wait(1 / RATE):
                return
            self.pool.submit(self._one, f"oBench{n % SENDERS:06d}")

    def _redeem(self) -> None:
        from models.codes import RotatingCode
        codes = RotatingCode(SECRET, prefix="PXV", period_seconds=60)
        for voucher_id in self.redeem:
            if self.stop.wait(1.0):
                return
            code = codes.show(voucher_id, datetime.now().astimezone()).code

            def scan(voucher_id=voucher_id, code=code) -> None:
                result = deliver(scan_xml(self.staff, "REDEEM", code))
                with self.lock:
                    self.redemptions.append((voucher_id, result))
            self.pool.submit(scan)


# ---------------------------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------------------------

@dataclass
class Row:
    fault: str
    ok: int | str = "-"
    apologies: int | str = "-"
    replies_lost: int | str = "-"
    out_lost: int | str = "-"
    out_dup: int | str = "-"
    uncertain: int | str = "-"
    errors_5xx: int | str = "-"
    recover_s: float | str = "-"
    note: str = ""


def reply_figures(row: Row, results: list[Delivery]) -> None:
    row.ok = sum(1 for r in results if r.answer and LIST_MARK in r.answer)
    row.apologies = sum(1 for r in results if r.answer and APOLOGY in r.answer)
    row.replies_lost = sum(1 for r in results if not r.answer)
    row.errors_5xx = sum(r.errors_5xx for r in results)


def first_good_after(results: list[Delivery], moment: float) -> float | None:
    """When the first message sent after ``moment`` got its proper reply."""
    good = [r.answered_at for r in results
            if r.began >= moment and r.answer and LIST_MARK in r.answer]
    return min(good) if good else None


def enqueue(tag: str, count: int) -> list[str]:
    """``count`` messages queued through the domain (models.outbox.enqueue), each with a text
    that names it; returns the texts."""
    from sqlalchemy.orm import Session

    from models.base import make_engine
    from models.clock import LOCAL_TZ
    from models.outbox import enqueue as queue
    from models.persons import Person
    engine = make_engine(DB_URL)
    now = datetime.now(LOCAL_TZ)
    texts = [f"faults {tag} #{n}" for n in range(count)]
    with Session(engine) as db, db.begin():
        people = {p.openid: p for p in db.scalars(
            select(Person).where(Person.openid.like("oBench%")))}
        for n, body in enumerate(texts):
            queue(db, person=people[f"oBench{n % SENDERS:06d}"], reason=f"faults.{tag}:{n}",
                  now=now, text=body)
    engine.dispose()
    return texts


def delivered(stack: Stack, texts: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(texts, 0)
    for message in stack.sent():
        body = content(message)
        if body in counts:
            counts[body] += 1
    return counts


def notices_to(stack: Stack, openids: set[str]) -> dict[str, int]:
    counts = dict.fromkeys(openids, 0)
    for message in stack.sent():
        if message.get("touser") in counts:
            counts[message["touser"]] += 1
    return counts


def wait_drained(stack: Stack, texts: list[str], seconds: float) -> float | None:
    """Poll until every text was delivered at least once; the moment it was, or None."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(delivered(stack, texts).values()):
            return time.monotonic()
        time.sleep(0.25)
    return None


def uncertain_rows(tag: str) -> int:
    engine = create_engine(DB_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as c:
        n = c.scalar(text("SELECT count(*) FROM outbox WHERE reason LIKE :r AND is_uncertain"),
                     {"r": f"faults.{tag}:%"})
    engine.dispose()
    return n


def settled(reason_like: str, seconds: float = 100) -> float | None:
    """Wait until no outbox row whose reason is LIKE ``reason_like`` is still queued or leased
    (a lease cut off by a kill runs out after 60 s: only then is its row marked uncertain or
    sent again); the moment, or None."""
    engine = create_engine(DB_URL.replace("postgresql://", "postgresql+psycopg://"))
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                with engine.connect() as c:
                    left = c.scalar(text("SELECT count(*) FROM outbox WHERE reason LIKE :r "
                                         "AND status IN ('pending', 'sending')"),
                                    {"r": reason_like})
            except Exception:
                left = -1
            if left == 0:
                return time.monotonic()
            time.sleep(0.5)
        return None
    finally:
        engine.dispose()


def outbox_figures(row: Row, counts: dict[str, int], tag: str) -> None:
    row.out_lost = sum(1 for n in counts.values() if n == 0)
    row.out_dup = sum(1 for n in counts.values() if n >= 2)
    row.uncertain = uncertain_rows(tag)


def since(moment: float | None, base: float) -> float | str:
    return round(moment - base, 1) if moment is not None else "never"


# ---------------------------------------------------------------------------------------------
# The faults
# ---------------------------------------------------------------------------------------------

def fault_redis_killed(stack: Stack, seeded: dict) -> Row:
    row = Row("a. Redis killed for 20 s")

    def kill_redis_for_20_s(texts: list[str]) -> float:
        stack.kill_redis()
        time.sleep(20)
        stack.start_redis()
        return time.monotonic()

    holders, good, back, drained = fault_under_load(
        stack, row, "a", seeded["vouchers"][:20], seeded["staff"][0], warm_up=5, messages=100,
        fault=kill_redis_for_20_s, drain_s=90, settle_s=10)
    row.note = (f"replies normal {since(good, back)} s and outbox drained {since(drained, back)} "
                f"s after the restart; {holders}")
    return row


def fault_under_load(stack: Stack, row: Row, tag: str, vouchers: list, staff, *, warm_up: float,
                     messages: int, fault: Callable[[list[str]], float], drain_s: float,
                     settle_s: float) -> tuple[str, float | None, float, float | None]:
    """Staff redeem vouchers and the outbox sends `messages` texts while `fault` happens; it
    returns when things are back. Returns the redemptions' note, the first good reply, the
    moment things were back and the moment the outbox drained."""
    with Load(redeem=vouchers, staff=staff) as load:
        time.sleep(warm_up)
        texts = enqueue(tag, messages)
        back = fault(texts)
        drained = wait_drained(stack, texts, drain_s)
        time.sleep(settle_s)
    note, good = closing_figures(stack, row, load, texts, tag, back, drained)
    return note, good, back, drained


def closing_figures(stack: Stack, row: Row, load: Load, texts: list[str], fault: str,
                    back: float, drained: float | None) -> tuple[str, float | None]:
    """What a fault under load ends with: replies, the outbox's deliveries, the redemptions'
    notices and the time to recover; returns the redemptions' note and the first good reply."""
    settled(f"faults.{fault}:%")
    settled("voucher.redeemed:%")
    reply_figures(row, load.results)
    outbox_figures(row, delivered(stack, texts), fault)
    note = redemption_check(stack, load, row)
    good = first_good_after(load.results, back)
    row.recover_s = since(max(good, drained) if good and drained else None, back)
    return note, good


def redemption_check(stack: Stack, load: Load, row: Row) -> str:
    """Each redeemed voucher's holder gets one notice: those missing count as lost, twice as
    duplicated."""
    from models.base import make_engine
    engine = make_engine(DB_URL)
    ids = [v for v, _ in load.redemptions]
    with engine.connect() as c:
        holders = dict(c.execute(text(
            "SELECT v.id, p.openid FROM vouchers v JOIN persons p ON p.id = v.person_id "
            "WHERE v.id = ANY(:ids) AND v.status = 'redeemed'"), {"ids": ids}).all())
    engine.dispose()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = notices_to(stack, set(holders.values()))
        if all(counts.values()):
            break
        time.sleep(0.5)
    counts = notices_to(stack, set(holders.values()))
    lost = sum(1 for n in counts.values() if n == 0)
    dup = sum(1 for n in counts.values() if n >= 2)
    row.out_lost += lost
    row.out_dup += dup
    missed = [answers(r) for v, r in load.redemptions if v not in holders]
    return (f"{len(holders)}/{len(ids)} scans redeemed, notices lost {lost} dup {dup}"
            + (f" (not redeemed: {len(missed)}, the scan got {missed[0]})" if missed else ""))


def fault_postgres_restarted(stack: Stack, seeded: dict) -> Row:
    row = Row("b. PostgreSQL restarted while sending")
    down: list[float] = []

    def restart_postgres_while_sending(texts: list[str]) -> float:
        deadline = time.monotonic() + 30  # restart once some are out and the rest are going
        while time.monotonic() < deadline and sum(delivered(stack, texts).values()) < 30:
            time.sleep(0.01)
        down.append(time.monotonic())
        stack.restart_postgres()
        return time.monotonic()

    note, good, back, drained = fault_under_load(
        stack, row, "b", seeded["vouchers"][20:40], seeded["staff"][0], warm_up=3, messages=200,
        fault=restart_postgres_while_sending, drain_s=120, settle_s=5)
    row.note = (f"down {back - down[0]:.1f} s; replies normal {since(good, back)} s and outbox "
                f"drained {since(drained, back)} s after; {note}")
    return row


def fault_worker_killed(stack: Stack, seeded: dict) -> Row:
    row = Row("c. outbox worker SIGKILLed at 70/200")
    worker = stack.workers[0]
    texts = enqueue("c", 200)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(delivered(stack, texts).values()) < 70:
        time.sleep(0.002)
    at = sum(delivered(stack, texts).values())
    stack.stop_worker(worker, kill=True)
    killed = time.monotonic()
    after = sum(delivered(stack, texts).values())
    stack.start_worker()
    drained = wait_drained(stack, texts, 120)  # a lease runs out after 60 s
    done = settled("faults.c:%")
    time.sleep(2)
    counts = delivered(stack, texts)
    outbox_figures(row, counts, "c")
    row.recover_s = since(drained, killed)
    row.note = (f"killed when {at} had been delivered ({after} once it was dead); every row "
                f"sent or marked {since(done, killed)} s after the kill")
    return row


def fault_two_workers(stack: Stack, seeded: dict) -> Row:
    row = Row("d. two workers, one queue of 200")
    second = stack.start_worker()
    time.sleep(3)  # both polling
    texts = enqueue("d", 200)
    began = time.monotonic()
    drained = wait_drained(stack, texts, 60)
    settled("faults.d:%")
    time.sleep(2)
    counts = delivered(stack, texts)
    outbox_figures(row, counts, "d")
    stack.stop_worker(second)
    row.note = f"all sent in {since(drained, began)} s"
    return row


class CourseLock:
    """The claim course's row locked FOR UPDATE from this process's own connection: a 领券 (which
    locks it too) waits until it is released."""

    def __init__(self, course_id: int) -> None:
        self.engine = create_engine(DB_URL.replace("postgresql://", "postgresql+psycopg://"))
        self.course_id = course_id

    def __enter__(self) -> CourseLock:
        self.conn = self.engine.connect()
        self.tx = self.conn.begin()
        self.conn.execute(text("SELECT id FROM courses WHERE id = :id FOR UPDATE"),
                          {"id": self.course_id})
        return self

    def __exit__(self, *exc: object) -> None:
        self.tx.rollback()
        self.conn.close()
        self.engine.dispose()


def prepare_claim(openid: str) -> None:
    """The claimant looks the course up and opens its details, so that 领券 means that course."""
    for words in ("课程 领券压测", "1"):
        result = deliver(text_xml(openid, words, next(_msg_ids)))
        if not result.answer:
            raise RuntimeError(f"no answer to {words!r} for {openid}")


def claim_outcome(stack: Stack, openid: str, result: Delivery, since_moment: float,
                  seconds: float) -> tuple[int, bool, float | None]:
    """Vouchers the claimant holds, whether its number reached them (in a reply or a message
    through the WeChat API), and when."""
    engine = create_engine(DB_URL.replace("postgresql://", "postgresql+psycopg://"))
    deadline = time.monotonic() + seconds
    reached_at = None
    while time.monotonic() < deadline:
        with engine.connect() as c:
            numbers = c.scalars(text(
                "SELECT v.number FROM vouchers v JOIN persons p ON p.id = v.person_id "
                "WHERE p.openid = :o AND v.status <> 'cancelled'"), {"o": openid}).all()
        said = " ".join(result.replies + [content(m) for m in stack.sent()
                                          if m.get("touser") == openid])
        if numbers and all(n in said for n in numbers):
            reached_at = result.answered_at if any(
                n in " ".join(result.replies) for n in numbers) else time.monotonic()
            break
        time.sleep(0.5)
    engine.dispose()
    return len(numbers), reached_at is not None, reached_at


def locked_claim(stack: Stack, seeded: dict, openid: str, while_waiting: Callable[[], float],
                 row: Row) -> tuple[Delivery, int, bool]:
    """A 领券 sent while the course row is locked by us; `while_waiting` runs meanwhile and returns
    the moment recovery is counted from. Fills the row's common figures; returns WeChat's
    delivery, the vouchers made and whether the number reached the person."""
    prepare_claim(openid)
    with Load() as load:
        with CourseLock(seeded["claim_course"]):
            box: list[Delivery] = []
            claim = threading.Thread(target=lambda: box.append(
                deliver(text_xml(openid, "领券", next(_msg_ids)))))
            claim.start()
            moment = while_waiting()
        claim.join(30)
        time.sleep(3)
    reply_figures(row, load.results)
    result = box[0]
    count, reached, at = claim_outcome(stack, openid, result, moment, 30)
    row.errors_5xx += result.errors_5xx
    row.replies_lost += 0 if reached else 1
    row.out_dup = max(0, count - 1)
    row.recover_s = since(at, moment)
    return result, count, reached


def fault_web_worker_killed(stack: Stack, seeded: dict) -> Row:
    row = Row("e. gunicorn worker SIGKILLed holding a 领券")
    killed: list[int] = []

    def kill_the_waiting_worker() -> float:
        for _ in range(40):  # up to 2 s: the backend waiting on our lock, then its client
            time.sleep(0.05)
            victim = holder_of_waiting_claim(stack)
            if victim:
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
                break
        moment = time.monotonic()
        time.sleep(1)
        return moment

    result, count, reached = locked_claim(stack, seeded, "faults-claimant-0",
                                          kill_the_waiting_worker, row)
    row.note = (f"killed pid {killed[0] if killed else 'NONE FOUND'}; vouchers made {count}; "
                f"number reached the person: {'yes' if reached else 'NO'}; claim attempts "
                f"{result.attempts}, 5xx {result.errors_5xx}")
    row.note += f"; WeChat got {answers(result)}"
    return row


def answers(result: Delivery) -> str:
    """What WeChat got for a message, shortly: its answer, or none."""
    if result.answer is None:
        return f"no answer in {result.attempts} attempts"
    return repr(result.answer[:30] or "success (empty)")


def holder_of_waiting_claim(stack: Stack) -> int | None:
    """The gunicorn worker whose database connection waits on our lock: its client port in
    pg_stat_activity, then the process owning that port (ss)."""
    engine = create_engine(DB_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as c:
        ports = c.scalars(text("SELECT client_port FROM pg_stat_activity "
                               "WHERE wait_event_type = 'Lock' AND datname = 'peixun'")).all()
    engine.dispose()
    workers = stack.web_workers()
    listing = subprocess.run(["ss", "-tnpH"], capture_output=True, text=True).stdout
    for port in ports:
        for line in listing.splitlines():
            columns = line.split()
            if len(columns) >= 5 and columns[3].endswith(f":{port}"):
                for pid in re.findall(r"pid=(\d+)", line):
                    if int(pid) in workers:
                        return int(pid)
    return None


def fault_slow_claim(stack: Stack, seeded: dict) -> Row:
    row = Row("f. a 领券 that takes 12 s")

    def hold_the_lock() -> float:
        began = time.monotonic()
        time.sleep(12)
        return began

    result, count, reached = locked_claim(stack, seeded, "faults-claimant-1", hold_the_lock, row)
    row.note = (f"vouchers made {count}; number reached the person: "
                f"{'yes' if reached else 'NO'}; WeChat got {answers(result)} at attempt "
                f"{result.attempts}")
    row.apologies += sum(1 for r in result.replies if APOLOGY in r)
    return row


def fault_limit_without_redis(stack: Stack, seeded: dict) -> Row:
    row = Row("g. Redis down: 61 messages a minute")
    openid = f"oBench{SENDERS - 1:06d}"  # not among the load's senders now: no load runs
    stack.kill_redis()
    try:
        time.sleep(1)
        results = [deliver(text_xml(openid, "课程", next(_msg_ids))) for _ in range(61)]
    finally:
        stack.start_redis()
    reply_figures(row, results)
    refused = [n + 1 for n, r in enumerate(results) if r.answer and SLOW_DOWN in r.answer]
    last = results[-1].answer or ""
    answered = len(results) - len(refused)
    row.note = (f"answered {answered} of 61 (at most 60: {'yes' if answered <= 60 else 'NO'}); "
                f"refused: {len(refused)} (first at #{refused[0] if refused else '-'}, 61st "
                f"{'refused' if SLOW_DOWN in last else 'answered'}); sent in "
                f"{results[-1].answered_at - results[0].began:.1f} s")
    return row


FAULTS = {"a": fault_redis_killed, "b": fault_postgres_restarted, "c": fault_worker_killed,
          "d": fault_two_workers, "e": fault_web_worker_killed, "f": fault_slow_claim,
          "g": fault_limit_without_redis}


def table(rows: list[Row], header: str) -> str:
    titles = ("fault", "ok", "apol", "lost", "out_lost", "out_dup", "uncert", "5xx",
              "recover_s")
    lines = [header, "replies: ok / apologies / lost (no answer after WeChat's retries); "
             "out_*: outbox messages never delivered / delivered 2+ times; uncert: marked "
             "uncertain; recover_s: from the fault's end until replies and the outbox are "
             "normal", "",
             f"{titles[0]:<42} " + " ".join(f"{t:>9}" for t in titles[1:]) + "  note"]
    for r in rows:
        values = (r.ok, r.apologies, r.replies_lost, r.out_lost, r.out_dup, r.uncertain,
                  r.errors_5xx, r.recover_s)
        lines.append(f"{r.fault:<42} " + " ".join(f"{v!s:>9}" for v in values)
                     + f"  {r.note}")
    return "\n".join(lines)


def interrupted(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="abcdefg", help="which faults, e.g. a,c")
    args = parser.parse_args()
    chosen = [k for k in FAULTS if k in args.only]
    OUT.mkdir(parents=True, exist_ok=True)
    for name in ("gunicorn", "worker"):
        (OUT / f"faults-{name}.log").write_text("")
    # Ctrl-C and a plain kill both end in the finally below.
    signal.signal(signal.SIGTERM, interrupted)
    missing = [p for p in ("redis-server", str(PG_BIN / "initdb"), "ss")
               if shutil.which(p) is None]
    if missing:
        print("missing:", ", ".join(missing), "(apt-get install postgresql-15 redis-server "
              "iproute2)")
        return 1
    stack = Stack()
    rows: list[Row] = []
    try:
        log("private PostgreSQL on", PG_PORT, "and Redis on", REDIS_PORT)
        stack.start_postgres()
        stack.start_redis()
        stack.start_fake()
        os.environ.update(stack.environment())
        log("migrating and seeding (the demo county, 300 followers, vouchers)")
        seeded = seed(redeem_vouchers=60, claimants=4)
        stack.start_web()
        stack.start_worker()
        log("gunicorn on", WEB_PORT, "and the outbox worker are up; fake WeChat at",
            stack.fake.base_url)
        for key in chosen:
            log("fault", key, "…")
            row = FAULTS[key](stack, seeded)
            log(" ", row)
            rows.append(row)
    except KeyboardInterrupt:
        log("interrupted: stopping")
        chosen = []  # the table is not written over by a partial one
    finally:
        stack.stop()
    header = (f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}  commit "
              + subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
              + f"  nproc={os.cpu_count()}  load {os.getloadavg()[0]:.2f}")
    report = table(rows, header)
    print("\n" + report)
    if chosen and len(rows) == len(chosen):
        (OUT / "faults.txt").write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
