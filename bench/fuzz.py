"""`make fuzz`: coverage-guided fuzzing of the WeChat callback and the mini-program API.

atheris (libFuzzer for Python) drives bench/fuzz_target.py: each input is one signed callback
(plain or safe mode) or one API request, built from the fuzzer's bytes; our code and wechatpy
are instrumented, so inputs that reach new branches are kept and mutated further. Every 5xx,
every log record with a traceback and every reply WeChat could not read is counted, and the
input is saved under bench/out/fuzz/ to replay (``--replay FILE``). Expected: 0 of each.

    python -m bench.fuzz --runs 100000     # what `make fuzz` runs

This process runs the fuzzer in a child process and reads its output, so the summary can give
libFuzzer's edge coverage (which libFuzzer prints only as it exits). Without atheris (it has
wheels for x86-64 Linux only) ``--engine hypothesis`` runs the same generators, unguided."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "fuzz"
RESULT = "FUZZ-RESULT "
MAX_LEN = 2048  # bytes of an input: enough choices for the largest message or request
SEEDS = 64
# Instrumented for coverage: ours, and the library that parses what WeChat sends.
INSTRUMENTED = ["bot", "models", "webhooks", "locales", "wechatpy", "bench.fuzz_target"]


class Tally:
    def __init__(self, runs: int) -> None:
        self.runs, self.done, self.started = runs, 0, time.monotonic()
        self.by_door: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.server_errors = 0
        self.unreadable = 0
        self.tracebacks_seen = 0

    def count(self, outcome, tracebacks: list[str], data: bytes) -> None:
        self.done += 1
        self.by_door[outcome.door] = self.by_door.get(outcome.door, 0) + 1
        key = f"{outcome.door} {outcome.status}"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        failed = []
        if outcome.status >= 500:
            self.server_errors += 1
            failed.append(f"{outcome.door} answered {outcome.status}")
        if outcome.problem:
            self.unreadable += 1
            failed.append(outcome.problem)
        for traceback in tracebacks[self.tracebacks_seen:]:
            failed.append(traceback)
        self.tracebacks_seen = len(tracebacks)
        if failed:
            _keep(data, failed)

    def summary(self) -> dict:
        seconds = time.monotonic() - self.started
        return {"inputs": self.done, "seconds": round(seconds, 1),
                "inputs_per_second": round(self.done / seconds, 1) if seconds else 0,
                "by_door": self.by_door, "statuses": dict(sorted(self.statuses.items())),
                "server_errors": self.server_errors, "tracebacks": self.tracebacks_seen,
                "unreadable_replies": self.unreadable}


def _keep(data: bytes, failed: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    name = OUT / f"crash-{hashlib.sha1(data).hexdigest()[:16]}"
    name.write_bytes(data)
    name.with_suffix(".txt").write_text("\n\n".join(failed), encoding="utf-8")
    sys.stderr.write(f"\nFINDING saved as {name}:\n{failed[0][-3000:]}\n")


# --- the child: atheris -------------------------------------------------------------------

def run_atheris(runs: int, seed: int, corpus: str) -> None:
    import atheris

    with atheris.instrument_imports(include=INSTRUMENTED):
        from bench.fuzz_target import BytesSource, Harness
    harness = Harness()
    tally = Tally(runs)

    def one(data: bytes) -> None:
        outcome = harness.one(BytesSource(atheris.FuzzedDataProvider(data)))
        tally.count(outcome, harness.tracebacks, data)
        if tally.done == runs:  # libFuzzer exits right after this run, without a word to us
            print(RESULT + json.dumps(tally.summary()), flush=True)

    # Inputs of any length from the start (libFuzzer would begin with a few bytes, which
    # build only the plainest messages), and a corpus seeded with random ones.
    args = [sys.argv[0], f"-runs={runs}", f"-seed={seed}", f"-max_len={MAX_LEN}",
            "-len_control=0", "-print_final_stats=1", "-rss_limit_mb=4096", "-timeout=30"]
    directory = Path(corpus)
    if not any(directory.glob("*")):
        _seed_corpus(directory, seed)
    args.append(str(directory))
    atheris.Setup(args, one)
    atheris.Fuzz()


def _seed_corpus(directory: Path, seed: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for n in range(SEEDS):
        size = rng.randrange(16, MAX_LEN // 2)
        (directory / f"seed-{n}").write_bytes(rng.randbytes(size))


def replay(path: str) -> int:
    import atheris

    from bench.fuzz_target import BytesSource, Harness

    harness = Harness()
    data = Path(path).read_bytes()
    outcome = harness.one(BytesSource(atheris.FuzzedDataProvider(data)))
    print(outcome, *harness.tracebacks, sep="\n")
    return 1 if outcome.status >= 500 or outcome.problem or harness.tracebacks else 0


# --- without atheris: Hypothesis, unguided -------------------------------------------------

def run_hypothesis(runs: int, seed: int) -> dict:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    from bench.fuzz_target import DrawSource, Harness

    harness = Harness()
    tally = Tally(runs)

    @hypothesis_seed(seed)
    @settings(max_examples=runs, deadline=None, database=None, phases=["generate"],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one(data) -> None:
        outcome = harness.one(DrawSource(data))
        tally.count(outcome, harness.tracebacks, repr(outcome).encode())

    one()
    return tally.summary()


# --- the parent ------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100_000, help="inputs to try")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=["atheris", "hypothesis"], default=None)
    parser.add_argument("--corpus", help="a directory to keep the fuzzer's corpus in")
    parser.add_argument("--replay", help="run one saved input (bench/out/fuzz/crash-…)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay)
    engine = args.engine or ("atheris" if _has_atheris() else "hypothesis")
    if args.child:
        run_atheris(args.runs, args.seed, args.corpus)
        return 0
    started = time.monotonic()
    if engine == "hypothesis":
        figures = run_hypothesis(args.runs, args.seed)
        figures.update(engine="hypothesis (unguided)", coverage="n/a")
    else:
        figures = _atheris_in_child(args)
        if figures is None:
            return 2
    figures["wall_seconds"] = round(time.monotonic() - started, 1)
    print(_report(figures))
    clean = not (figures["server_errors"] or figures["tracebacks"]
                 or figures["unreadable_replies"])
    return 0 if clean else 1


def _has_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def _atheris_in_child(args) -> dict | None:
    with tempfile.TemporaryDirectory(prefix="peixun-corpus-") as scratch:
        return _run_child(args, args.corpus or scratch)


def _run_child(args, corpus: str) -> dict | None:
    command = [sys.executable, "-m", "bench.fuzz", "--child", "--runs", str(args.runs),
               "--seed", str(args.seed), "--corpus", corpus]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    figures, coverage, features = None, "", ""
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace") as child:
        for line in child.stdout:
            if line.startswith(RESULT):
                figures = json.loads(line[len(RESULT):])
                continue
            sys.stderr.write(line)
            found = re.search(r"\bcov: (\d+) ft: (\d+)", line)
            if found:
                coverage, features = found.groups()
    if figures is None:
        sys.stderr.write(f"the fuzzer stopped early (exit {child.returncode}); see above\n")
        return None
    figures.update(engine="atheris (libFuzzer, coverage-guided)",
                   coverage=f"{coverage} edges, {features} features")
    return figures


def _report(f: dict) -> str:
    lines = [
        "",
        f"fuzzing: {f['engine']}",
        f"inputs:             {f['inputs']:,} ({', '.join(f'{k} {v:,}' for k, v in f['by_door'].items())})",  # noqa: E501
        f"time:               {f['seconds']} s fuzzing, {f['wall_seconds']} s in all",
        f"inputs/s:           {f['inputs_per_second']}",
        f"coverage:           {f['coverage']}",
        f"5xx answers:        {f['server_errors']}",
        f"tracebacks logged:  {f['tracebacks']}",
        f"unreadable replies: {f['unreadable_replies']}",
        "answers:            " + ", ".join(f"{k}: {v:,}" for k, v in f["statuses"].items()),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
