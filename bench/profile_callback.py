"""Where a callback's CPU goes, per layer (issue 19): the app called in this process as a WSGI
server would call it, with signed messages from bench/make_requests.py, under cProfile; each
function's own time (tottime) is summed by the layer its file belongs to.

    PYTHONPATH=. .venv/bin/python bench/profile_callback.py [--count 3000] [--text 课程]
        [--app samework] [--no-profile]
    PYTHONPATH=. .venv/bin/py-spy record --gil --format raw -o RAW -- .venv/bin/python \
        bench/profile_callback.py --no-profile; then  ... bench/profile_callback.py --py-spy RAW

Needs the database and Redis bench/run.sh prepares (DATABASE_URL, REDIS_URL, WECHAT_TOKEN in
the environment, followers seeded). Without the profiler the same loop gives the CPU time per
message of the app alone (no gunicorn, no socket), the figure to compare changes with.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import random
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

from werkzeug.test import EnvironBuilder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_requests import signature

ROOT = str(Path(__file__).resolve().parent.parent)

PROJECT = ("webhooks", "bot", "models", "locales", "bench")
# First match wins: (what the file path contains, layer).
LAYERS = (
    ("/bench/", "bench harness (WSGI call, start_response)"),
    (ROOT + "/webhooks/", "project: webhooks/"),
    (ROOT + "/bot/", "project: bot/"),
    (ROOT + "/models/", "project: models/"),
    (ROOT + "/locales/", "project: locales/"),
    ("/flask/", "Flask"),
    ("/werkzeug/", "Werkzeug"),
    ("/wechatpy/", "wechatpy (signature, XML parse, reply render)"),
    ("/xmltodict", "wechatpy (signature, XML parse, reply render)"),
    ("/sqlalchemy/", "SQLAlchemy"),
    ("/psycopg", "psycopg"),
    ("/redis/", "redis-py"),
    ("/babel/", "Babel"),
    ("/gettext", "Babel"),
    ("/logging/", "logging"),
    ("/jinja2/", "Jinja"),
    ("/json/", "json"),
    ("/cachetools/", "cachetools"),
    ("/threading.py", "threading (dedup.pending's renewer)"),
    ("/socket.py", "sockets"),
    ("/selectors.py", "sockets"),
    ("/ssl.py", "sockets"),
)


def layer(filename: str) -> str:
    # cProfile gives absolute paths, py-spy paths from the package ("flask/app.py").
    if not filename.startswith(("/", "<", "~")):
        filename = (ROOT + "/" if filename.split("/")[0] in PROJECT else "/") + filename
    for part, name in LAYERS:
        if part in filename:
            return name
    if filename.startswith("~") or filename.startswith("<"):
        return "built-ins (C: socket I/O, sha1, str, dict…)"
    return "other Python stdlib/site"


def messages(count: int, senders: int, token: str, text: str,
             openids: list[str] | None = None, prefix: str = "oBench",
             scan: str | None = None, created: int | None = None) -> list[dict]:
    """Signed text messages, or with ``scan`` (the code shown) CHECKIN scan events as the
    class display's QR code produces them (scancode_waitmsg, bot.attendance.scan); ``created``
    is their CreateTime (now when not given)."""
    now = int(time.time())
    created = created or now
    rng = random.Random()  # seeded by the system: no two calls send the same nonces
    first_id = now * 1_000_000 + rng.randrange(500_000)
    environs = []
    for n in range(count):
        openid = openids[n] if openids else f"{prefix}{rng.randrange(senders):06d}"
        nonce = str(rng.randrange(10**9, 10**10))
        head = ("<xml><ToUserName><![CDATA[gh_peixun_demo]]></ToUserName>"
                f"<FromUserName><![CDATA[{openid}]]></FromUserName>")
        if scan:
            body = (f"{head}<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
                    "<Event><![CDATA[scancode_waitmsg]]></Event>"
                    "<EventKey><![CDATA[CHECKIN]]></EventKey><ScanCodeInfo><ScanType>qrcode"
                    f"</ScanType><ScanResult><![CDATA[{scan}]]></ScanResult></ScanCodeInfo>"
                    "</xml>")
        else:
            body = (f"{head}<CreateTime>{now}</CreateTime>"
                    "<MsgType><![CDATA[text]]></MsgType>"
                    f"<Content><![CDATA[{text}]]></Content>"
                    f"<MsgId>{first_id + n}</MsgId></xml>")
        query = {"signature": signature(token, str(now), nonce), "timestamp": str(now),
                 "nonce": nonce, "openid": openid}
        environs.append((openid, EnvironBuilder(path="/wechat", method="POST", query_string=query,
                                       data=body.encode(),
                                       content_type="text/xml").get_environ()))
    return environs


def call(app, environ: dict) -> bytes:
    status = []
    body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    if not status[0].startswith("200"):
        raise SystemExit(f"{status[0]}: {body[:200]!r}")
    return body


def measured(app, environ: dict) -> bytes:
    """The timed calls (py-spy's stacks are read from here down, not the warm-up's)."""
    return call(app, environ)


def from_py_spy(path: str, count: int) -> None:
    """The layer table from ``py-spy record --format raw`` (collapsed stacks, idle excluded):
    each sample counts for the file of its innermost frame."""
    by_layer: dict[str, int] = defaultdict(int)
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            stack, _, samples = line.rstrip().rpartition(" ")
            if "measured (" not in stack:
                continue
            leaf = stack.rsplit(";", 1)[-1]
            filename = leaf[leaf.rfind("(") + 1:].rsplit(":", 1)[0]
            by_layer[layer(filename)] += int(samples)
    total = sum(by_layer.values())
    print("| layer (innermost frame of the sample) | samples | share |\n|---|---:|---:|")
    for name, samples in sorted(by_layer.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {samples} | {100 * samples / total:.0f}% |")
    print(f"| all ({count} messages) | {total} | 100% |")


def checkin(app, args, token: str, services, session_id: int,
            profile: cProfile.Profile | None) -> None:
    """Rounds of the class's 60 trainees each scanning the display's current code once (the
    first scan of a session: a check-in, with its audit row); between rounds, untimed, the
    check-ins are undone and the locations made fresh again."""
    import seed_registered

    from webhooks.dedup import message_key

    size = seed_registered.CLASS_SIZE
    openids = [seed_registered.openid(n) for n in range(size)]
    cpu = wall = 0.0
    done = 0
    rounds = max(1, -(-args.count // size)) + 1  # the first round warms up
    times = thread = None
    per_round = defaultdict(float)
    pauses = FullCollections()
    for round_no in range(rounds):
        if round_no:
            # Every scan of the round a check-in, none a retry answered from the kept reply.
            marked = seed_registered.present(services, session_id)
            if marked != size:
                raise SystemExit(f"round {round_no}: {marked} check-ins for {size} scans")
        seed_registered.forget_checkins(services, session_id)
        seed_registered.fresh_locations(services, services.clock.now())
        # A trainee scans once a class, not once a round: their message rate starts again.
        services.kv.delete(*(f"peixun:rate:wechat:{openid}" for openid in openids))
        code = services.class_codes.show(session_id, services.clock.now()).code
        # An event has no MsgId: WeChat's retries are known by sender, CreateTime and what was
        # scanned. A scan of an earlier round or run in the same second would be taken for a
        # retry and answered from the kept reply, not checked in again: its mark is removed.
        created = int(time.time())
        if args.app == "samework":
            import samework_app
            samework_app.kv.delete(*(samework_app.event_key(openid, created, code)
                                     for openid in openids),
                                   *(f"sw:rate:{openid}" for openid in openids))
        services.kv.delete(*(message_key({
            "FromUserName": openid, "CreateTime": str(created), "Event": "scancode_waitmsg",
            "EventKey": "CHECKIN", "ScanCodeInfo": {"ScanResult": code}}) for openid in openids))
        environs = messages(size, size, token, "", openids=openids, scan=code, created=created)
        for _, environ in environs:
            if round_no == 1 and times is None:
                times, thread = os.times(), resource.getrusage(resource.RUSAGE_THREAD)
            started, used = time.perf_counter(), time.process_time()
            if profile and round_no:
                profile.enable()
            body = measured(app, environ)
            if profile and round_no:
                profile.disable()
            if round_no:
                per_round[round_no] += time.process_time() - used
                cpu += time.process_time() - used
                wall += time.perf_counter() - started
                done += 1
            if "签到成功".encode() not in body and b"Checked in" not in body:
                # The class's session is whole hours within the local day: after 23:29 none
                # can have begun within the check-in window (bench/scenarios.py).
                raise SystemExit(f"not a check-in (after 23:29 local time, no bench class "
                                 f"can be open for check-in): {body.decode()[:300]}")
    print(f"{args.app}, {done} × CHECKIN scan: {1000 * cpu / done:.3f} ms CPU and "
          f"{1000 * wall / done:.3f} ms wall a message"
          + (" (under cProfile)" if profile else ""))
    # Whole rounds, the untimed undoing between them included.
    print(cpu_split(times, thread, done) + " (with the rounds' resets)")
    print(pauses.stop())
    print("  CPU ms a scan by round: " + " ".join(
        f"{1000 * v / size:.2f}" for _, v in sorted(per_round.items())))
    if profile:
        print_profile(profile, done, args.top)


def print_profile(profile: cProfile.Profile, count: int, top: int) -> None:
    """cProfile's own time of each function, summed by layer; with ``top``, the top functions."""
    stats = pstats.Stats(profile)
    by_layer: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        by_layer[layer(filename)] += tottime
        total += tottime
    print("| layer (own time of its functions) | ms a message | share |\n|---|---:|---:|")
    for name, seconds in sorted(by_layer.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {1000 * seconds / count:.3f} | {100 * seconds / total:.0f}% |")
    print(f"| all (profiled) | {1000 * total / count:.3f} | 100% |")
    if top:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(top)
        print(out.getvalue())


class FullCollections:
    """The cyclic collector's full (oldest generation) collections while messages are timed:
    each stops the process, and every request queued behind it waits it out."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0
        gc.callbacks.append(self._seen)

    def _seen(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.pauses.append(time.perf_counter() - self._started)

    def stop(self) -> str:
        gc.callbacks.remove(self._seen)
        longest = max(self.pauses, default=0.0)
        return (f"  full collections: {len(self.pauses)}, the longest {1000 * longest:.1f} ms "
                f"({gc.get_freeze_count():,} objects frozen at the start)")


def cpu_split(times: os.times_result, thread: resource.struct_rusage, count: int) -> str:
    """The loop's CPU a message split three ways: user and system time of the process, and
    the part spent by threads other than the one serving (a renewer, a warm-up)."""
    now, ours = os.times(), resource.getrusage(resource.RUSAGE_THREAD)
    user, system = now.user - times.user, now.system - times.system
    serving = ours.ru_utime - thread.ru_utime + ours.ru_stime - thread.ru_stime
    return (f"  user {1000 * user / count:.3f} ms, system {1000 * system / count:.3f} ms, "
            f"other threads {1000 * (user + system - serving) / count:.3f} ms a message")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--senders", type=int, default=2000)
    parser.add_argument("--text", default="课程")
    parser.add_argument("--marker", default="开放报名的课程")
    parser.add_argument("--app", choices=("peixun", "samework"), default="peixun")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--after", help="each sender first says this (not timed): 课程 before 1")
    parser.add_argument("--registered", type=int, default=0, metavar="N",
                        help="senders are N registered people (bench/seed_registered.py)")
    parser.add_argument("--checkin", action="store_true",
                        help="CHECKIN scans of the open class's current code by its 60 "
                             "enrolled trainees (their check-ins undone between rounds)")
    parser.add_argument("--top", type=int, default=0, help="also print the top N functions")
    parser.add_argument("--py-spy", metavar="RAW", help="only summarise py-spy's raw output")
    args = parser.parse_args()
    if args.py_spy:
        from_py_spy(args.py_spy, args.count)
        return
    token = os.environ.get("WECHAT_TOKEN", "peixun-dev-token")
    peixun = None
    if args.app == "peixun" or args.registered or args.checkin:
        from bot import understanding
        from webhooks.app import create_app
        peixun = create_app()  # for the same-work app, only to seed what it reads
        # The app loads jieba and pypinyin in a thread at its start: a second or two of CPU
        # that process_time would charge to the messages timed meanwhile.
        understanding.warm_up(wait=True)
    if args.app == "samework":
        import samework_app
        app = samework_app.app
    else:
        app = peixun
    senders, prefix = args.senders, "oBench"
    if args.registered or args.checkin:
        import seed_registered
        services = peixun.extensions["peixun"]
        session_id = seed_registered.seed(services, max(args.registered,
                                                        seed_registered.CLASS_SIZE))
        senders, prefix = args.registered or seed_registered.CLASS_SIZE, "oBenchReg"
    # CPU time, not wall time: waiting on a socket costs the machine nothing.
    profile = None if args.no_profile else cProfile.Profile(time.process_time)
    if args.checkin:
        checkin(app, args, token, services, session_id, profile)
        return
    warm = messages(200, senders, token, args.text, prefix=prefix)
    for _, environ in warm:
        body = call(app, environ)
    environs = messages(args.count, senders, token, args.text, prefix=prefix)
    before = []
    if args.after:
        before = messages(args.count, args.senders, token, args.after,
                          openids=[openid for openid, _ in environs])
    wall = cpu = 0.0
    pauses = FullCollections()
    times, thread = os.times(), resource.getrusage(resource.RUSAGE_THREAD)
    for n, (_, environ) in enumerate(environs):
        if before:
            call(app, before[n][1])
        started, used = time.perf_counter(), time.process_time()
        if profile:
            profile.enable()
        body = measured(app, environ)
        if profile:
            profile.disable()
        cpu += time.process_time() - used
        wall += time.perf_counter() - started
        if args.marker.encode() not in body:
            raise SystemExit(f"not the expected reply: {body.decode()[:300]}")
    print(f"{args.app}, {args.count} × {args.text!r}: {1000 * cpu / args.count:.3f} ms CPU and "
          f"{1000 * wall / args.count:.3f} ms wall a message"
          + (" (under cProfile)" if profile else ""))
    print(cpu_split(times, thread, args.count))
    print(pauses.stop())
    if profile:
        print_profile(profile, args.count, args.top)


if __name__ == "__main__":
    main()
