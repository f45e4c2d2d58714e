"""Issue 5 and 6 benchmarks, through the signed callback of a real server (gunicorn, 2 workers,
PostgreSQL and Redis), as WeChat's server would post them:

- redeem: for each of N vouchers, K staff members scan the same holder's code at the same
  moment; exactly one scan may redeem it.
- checkin: a class of 60 trainees checks in within one minute by scanning the class code.

    .venv/bin/python -m bench.scenarios            # both; prints a summary, exits 1 on a failure

Only 127.0.0.1 is ever contacted. The database `peixun_bench_scenarios` is made afresh.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from bench.servers import wait_until_answering

ROOT = Path(__file__).resolve().parent.parent
PG = "postgresql://postgres@127.0.0.1:5432"
DB = "peixun_bench_scenarios"
PORT = 5077
ENV = {
    "DATABASE_URL": f"{PG}/{DB}",
    "REDIS_URL": "redis://127.0.0.1:6379/6",
    "SECRET_KEY": "bench-secret",
    "PEIXUN_DATA_KEY": "bench-data-key",
    "WECHAT_TOKEN": "bench-token",
    "PORT": str(PORT),
    "HOST": "127.0.0.1",
    "WORKERS": "2",
}


def fresh_database() -> None:
    from models.base import make_engine

    admin = make_engine(f"{PG}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {DB}"))
    admin.dispose()


def seed(vouchers: int, staff_per_voucher: int, class_size: int) -> dict:
    """People, staff, vouchers and an open class running now, through the domain."""
    from cli.database import migrate
    from models.base import make_engine
    from models.catalogue import ClassSession
    from models.clock import LOCAL_TZ
    from models.demo import load_demo
    from models.pii import Vault

    engine = make_engine(ENV["DATABASE_URL"])
    migrate(engine)
    now = datetime.now(LOCAL_TZ)
    vault = Vault(ENV["PEIXUN_DATA_KEY"])
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as db:
        load_demo(db, vault=vault, now=now, today=now.date())
        _publish_bench_courses(db, now=now, class_size=class_size)
    with sessions.begin() as db:
        staff = _bench_staff(db, now=now, count=staff_per_voucher)
        voucher_ids, trainees = _bench_holders(db, vault=vault, now=now, vouchers=vouchers,
                                               class_size=class_size)
        session_id = _bench_session(db, staff_openid=staff[0], now=now)
    with sessions.begin() as db:
        db.get(ClassSession, session_id).opened_at = now
    engine.dispose()
    return {"staff": staff, "vouchers": voucher_ids, "trainees": trainees,
            "session": session_id}


def _publish_bench_courses(db, *, now: datetime, class_size: int) -> None:
    """bench-redeem (vouchers to redeem) and bench-class (the open class), running now."""
    from models.audit import Channel
    from models.catalogue import CertificateKind
    from models.courses import CourseSpec, publish_course

    # A session of whole hours (the course rules count hours), within the day, running now:
    # in the day's last hour, one that began under an hour ago (check-ins, open until 30
    # minutes after the start, then fail: from 23:29 to midnight local time the CHECKIN
    # benchmarks cannot run).
    start = max((now - timedelta(minutes=5)).replace(second=0, microsecond=0),
                now.replace(hour=0, minute=0, second=0, microsecond=0))
    day_end = start.replace(hour=23, minute=59)
    hours = min(4, int((day_end - start).total_seconds() // 3600))
    if hours < 1:
        start, hours = day_end - timedelta(hours=1), 1
    end = start + timedelta(hours=hours)
    spec = lambda code, cap: CourseSpec(  # noqa: E731 — two courses of one shape
        code=code, institution_code="lp-pes", category_code="construction",
        name=f"压测班{code}", name_en=code, occupation=f"工种{code}", occupation_en=code,
        certificate_kind=CertificateKind.COMPLETION, certificate_level=None,
        theory_hours=0, practice_hours=0, capacity=cap, fee_yuan=0,
        is_entrepreneurship=False, township_code="luoxiong", address="压测",
        lat=24.885, lng=104.309, radius_m=500,
        sessions=[(start.date(), start.time(), end.time())])
    for code, cap in (("bench-redeem", 60), ("bench-class", class_size)):
        s = spec(code, cap)
        object.__setattr__(s, "practice_hours", hours)
        publish_course(db, spec=s, actor_id=None, channel=Channel.CLI, now=now)


def _bench_staff(db, *, now: datetime, count: int) -> list[str]:
    from models.invitations import bind_by_invitation
    from models.persons import meet
    from models.staff import StaffMember, invite_staff

    staff = []
    for n in range(count):
        openid = f"bench-staff-{n}"
        member = meet(db, openid=openid, now=now)
        bind_by_invitation(db, role=StaffMember, person_id=member.id,
                           token=invite_staff(db, institution_code="lp-pes", now=now), now=now)
        staff.append(openid)
    return staff


def _bench_holders(db, *, vault, now: datetime, vouchers: int,
                   class_size: int) -> tuple[list[int], list[str]]:
    """Holders of vouchers to redeem, and the class's trainees (enrolled, located there)."""
    from bench.people import register_bench_person
    from models.audit import Channel
    from models.catalogue import Course
    from models.persons import LocationSource, Person
    from models.vouchers import VoucherStatus, claim_voucher

    redeem_course = db.scalar(select(Course).where(Course.code == "bench-redeem"))
    class_course = db.scalar(select(Course).where(Course.code == "bench-class"))
    voucher_ids, trainees = [], []
    for n in range(vouchers):
        openid = f"bench-holder-{n}"
        register_bench_person(db, vault=vault, openid=openid, n=10000 + n, now=now)
        voucher_ids.append(claim_voucher(db, openid=openid, course_id=redeem_course.id,
                                         channel=Channel.CLI, now=now,
                                         today=now.date()).id)
    for n in range(class_size):
        openid = f"bench-trainee-{n}"
        register_bench_person(db, vault=vault, openid=openid, n=20000 + n, now=now)
        voucher = claim_voucher(db, openid=openid, course_id=class_course.id,
                                channel=Channel.CLI, now=now, today=now.date())
        voucher.status, voucher.redeemed_at = VoucherStatus.REDEEMED, now
        trainees.append(openid)
    db.flush()
    for p in db.scalars(select(Person).where(Person.openid.like("bench-trainee-%"))):
        p.last_lat, p.last_lng, p.located_at = 24.8851, 104.3092, now
        p.location_source = LocationSource.WECHAT_EVENT  # as a LOCATION event leaves it
    return voucher_ids, trainees


def _bench_session(db, *, staff_openid: str, now: datetime) -> int:
    """The class's session, opened by the first staff member; its id."""
    from models.attendance import open_session

    # The demo keeps a class of the same institution running at any hour: name the bench's.
    session = open_session(db, staff_openid=staff_openid, now=now, course_code="bench-class")
    return session.id


class Server:
    def __enter__(self) -> Server:
        env = {**os.environ, **ENV}
        self.log = open(ROOT / "bench" / "out" / "scenarios-server.log", "w")
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "--workers", ENV["WORKERS"], "--bind",
             f"127.0.0.1:{PORT}", "wsgi:app"], cwd=ROOT, env=env, stdout=self.log,
            stderr=subprocess.STDOUT)
        wait_until_answering(f"http://127.0.0.1:{PORT}/wechat", tries=100, pause=0.1, timeout=2,
                             failure="server did not start; see bench/out/scenarios-server.log")
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def post_scan(http: requests.Session, openid: str, key: str, result: str) -> tuple[float, str]:
    ts, nonce = str(int(time.time())), secrets.token_hex(6)
    signature = hashlib.sha1("".join(sorted([ENV["WECHAT_TOKEN"], ts, nonce])).encode()).hexdigest()
    xml = (f"<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>"
           f"<CreateTime>{ts}</CreateTime><MsgType>event</MsgType>"
           f"<Event>scancode_waitmsg</Event><EventKey>{key}</EventKey><ScanCodeInfo>"
           f"<ScanType>qrcode</ScanType><ScanResult>{result}</ScanResult></ScanCodeInfo></xml>")
    began = time.perf_counter()
    response = http.post(f"http://127.0.0.1:{PORT}/wechat", data=xml.encode(), timeout=10,
                         params={"signature": signature, "timestamp": ts, "nonce": nonce})
    return (time.perf_counter() - began) * 1000, response.text


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def redeem(seeded: dict) -> dict:
    from models.codes import RotatingCode

    codes = RotatingCode(ENV["SECRET_KEY"], prefix="PXV", period_seconds=60)
    staff = seeded["staff"]
    latencies, redeemed, refused, other = [], 0, 0, 0
    lock = threading.Lock()
    with ThreadPoolExecutor(len(staff)) as pool:
        local = threading.local()
        began = time.perf_counter()
        for voucher_id in seeded["vouchers"]:
            code = codes.show(voucher_id, datetime.now().astimezone()).code
            barrier = threading.Barrier(len(staff))

            def scan(openid: str, code=code, barrier=barrier) -> None:
                nonlocal redeemed, refused, other
                http = getattr(local, "http", None) or requests.Session()
                local.http = http
                barrier.wait()
                ms, body = post_scan(http, openid, "REDEEM", code)
                with lock:
                    latencies.append(ms)
                    if "报到成功" in body:
                        redeemed += 1
                    elif "不能重复核销" in body:
                        refused += 1
                    else:
                        other += 1
            list(pool.map(scan, staff))
        elapsed = time.perf_counter() - began
    in_database = {v: n for v, n in redemptions_per_voucher().items()
                   if v in set(seeded["vouchers"])}
    return {"vouchers": len(seeded["vouchers"]), "scans": len(latencies),
            "redeemed": redeemed, "refused_as_duplicate": refused, "other": other,
            "db_max_redemptions_per_voucher": max(in_database.values(), default=0),
            "db_vouchers_redeemed": len(in_database),
            "p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99),
            "scans_per_s": len(latencies) / elapsed,
            "ok": (redeemed == len(seeded["vouchers"]) and other == 0
                   and set(in_database.values()) == {1}
                   and len(in_database) == len(seeded["vouchers"]))}


def redemptions_per_voucher() -> dict[int, int]:
    """What the database holds: live redemptions by voucher."""
    from models.base import make_engine

    engine = make_engine(ENV["DATABASE_URL"])
    with engine.connect() as c:
        rows = c.execute(text("SELECT voucher_id, count(*) FROM redemptions "
                              "WHERE undone_at IS NULL GROUP BY voucher_id")).all()
    engine.dispose()
    return dict(rows)


def checkin(seeded: dict, spread_seconds: float) -> dict:
    """Trainees arrive over ``spread_seconds`` (0: all at once), each scanning the code."""
    from models.codes import RotatingCode

    codes = RotatingCode(ENV["SECRET_KEY"], prefix="PXC", period_seconds=30)
    trainees = seeded["trainees"]
    began = time.perf_counter()

    def scan(pair: tuple[int, str]) -> tuple[float, str]:
        n, openid = pair
        delay = began + spread_seconds * n / len(trainees) - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        code = codes.show(seeded["session"], datetime.now().astimezone()).code
        return post_scan(requests.Session(), openid, "CHECKIN", code)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(scan, enumerate(trainees)))
    latencies = [ms for ms, _ in results]
    accepted = sum(1 for _, body in results if "签到成功" in body)
    return {"trainees": len(trainees), "accepted": accepted,
            "spread_s": spread_seconds, "took_s": round(time.perf_counter() - began, 1),
            "p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99),
            "max_ms": max(latencies), "ok": accepted == len(trainees)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vouchers", type=int, default=60)  # a class holds at most 60
    parser.add_argument("--staff", type=int, default=4)
    parser.add_argument("--class-size", type=int, default=60)
    parser.add_argument("--spread", type=float, default=60.0)
    args = parser.parse_args()
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    fresh_database()
    seeded = seed(args.vouchers, args.staff, args.class_size)
    import redis

    redis.Redis.from_url(ENV["REDIS_URL"]).flushdb()
    with Server():
        results = {"redeem": redeem(seeded), "checkin": checkin(seeded, args.spread)}
    for name, figures in results.items():
        print(name, " ".join(f"{k}={round(v, 1) if isinstance(v, float) else v}"
                             for k, v in figures.items()))
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
