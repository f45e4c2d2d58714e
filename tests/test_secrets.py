"""No public secrets in production: `make serve` and any server other machines reach refuse to
start with a secret unset or equal to the demo value anyone can read in the code, and say which;
PEIXUN_DEMO=1 says it is a demo. `make run` on this machine alone needs no settings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from runtime.config import PRODUCTION_SECRETS, Config, ConfigError, demo_values

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Secrets of a real deployment (anything but the demo values).
REAL = {"SECRET_KEY": "k" * 40, "PEIXUN_DATA_KEY": "d" * 40, "WECHAT_TOKEN": "t0ken",
        "WECHAT_APP_ID": "wx0123456789abcdef", "WECHAT_APP_SECRET": "s" * 32,
        "PUBLIC_BASE_URL": "https://peixun.example.gov.cn"}
DEMO_SECRETS = ("SECRET_KEY", "PEIXUN_DATA_KEY", "WECHAT_TOKEN", "WECHAT_APP_SECRET")


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as error:
        Config.from_env(env)
    return str(error.value)


def test_production_names_each_unset_secret():
    message = refusal({"PEIXUN_ENV": "production"})
    for name in PRODUCTION_SECRETS:
        assert f"{name} (unset)" in message


def test_production_names_each_public_demo_value():
    message = refusal({"PEIXUN_ENV": "production", **REAL, **demo_values()})
    for name in (*DEMO_SECRETS, "WECHAT_APP_ID", "WECHAT_MINIPROGRAM_APP_SECRET"):
        assert f"{name} (the public demo value)" in message
    assert "PUBLIC_BASE_URL" not in message


def test_production_with_secrets_of_its_own_starts():
    config = Config.from_env({"PEIXUN_ENV": "production", **REAL})
    assert config.is_production and config.secret_key == REAL["SECRET_KEY"]


def test_saying_demo_does_not_relax_production():
    assert "SECRET_KEY" in refusal({"PEIXUN_ENV": "production", "PEIXUN_DEMO": "1"})


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "peixun.example.org"])
def test_a_host_other_machines_reach_refuses_the_demo_secrets(host):
    message = refusal({"HOST": host, **{n: demo_values()[n] for n in DEMO_SECRETS}})
    for name in DEMO_SECRETS:
        assert f"{name} (the public demo value)" in message
    assert "PEIXUN_DEMO=1" in message
    assert Config.from_env({"HOST": host, **REAL}).host == host


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20"])
def test_a_demo_on_the_network_is_said_to_be_one(host):
    assert Config.from_env({"HOST": host, "PEIXUN_DEMO": "1"}).secret_key == \
        demo_values()["SECRET_KEY"]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_this_machine_alone_needs_no_settings(host):
    assert Config.from_env({"HOST": host}).host == host
    assert Config.from_env({}).env == "development"


# --- the real start-up, as `make serve` and `make run` do it ------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(tmp_path, **extra: str) -> dict[str, str]:
    """This shell's environment without any Peixun setting: a fresh clone's."""
    names = {*PRODUCTION_SECRETS, *demo_values(), "PEIXUN_ENV", "PEIXUN_DEMO", "HOST", "PORT",
             "DATABASE_URL", "REDIS_URL", "WECHAT_API_BASE_URL", "WECHAT_ENCODING_AES_KEY"}
    env = {k: v for k, v in os.environ.items() if k not in names and not k.startswith("MAKE")}
    return {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'peixun.db'}", **extra}


def make_serve(env: dict[str, str], port: int) -> subprocess.Popen:
    # `-o install`: the venv of this test run is the one to use, as it is (nothing installed).
    return subprocess.Popen(
        ["make", "--no-print-directory", "-o", "install", "serve", f"BIN={BIN}",
         "HOST=127.0.0.1", f"PORT={port}", "WORKERS=1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)


def answers(port: int, proc: subprocess.Popen, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            return requests.get(f"http://127.0.0.1:{port}/wechat", timeout=2).status_code == 403
        except requests.RequestException:
            time.sleep(0.2)
    return False


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the group started for this server alone
    proc.communicate(timeout=30)


def test_make_serve_refuses_the_demo_secrets_and_names_each(tmp_path):
    port = free_port()
    proc = make_serve(clean_env(tmp_path), port)
    try:
        output, _ = proc.communicate(timeout=120)
    finally:
        stop(proc)
    assert proc.returncode != 0
    for name in PRODUCTION_SECRETS:
        assert f"{name} (unset)" in output
    assert "Traceback" not in output


def test_make_worker_refuses_the_demo_secrets_too(tmp_path):
    """The worker seals full-ID export files with the data key: on the public demo key anyone
    with the code could open them."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-o", "install", "worker", f"BIN={BIN}"],
        cwd=ROOT, env=clean_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    for name in PRODUCTION_SECRETS:
        assert f"{name} (unset)" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_gunicorn_itself_refuses_the_demo_secrets(tmp_path):
    env = clean_env(tmp_path, PEIXUN_ENV="production", HOST="127.0.0.1",
                    **{**REAL, **{name: demo_values()[name] for name in DEMO_SECRETS}})
    done = subprocess.run(
        [str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{free_port()}",
         "wsgi:app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    for name in DEMO_SECRETS:
        assert f"{name} (the public demo value)" in done.stderr


def test_make_serve_with_peixun_demo_starts(tmp_path):
    port = free_port()
    proc = make_serve(clean_env(tmp_path, PEIXUN_DEMO="1"), port)
    try:
        assert answers(port, proc), proc.stdout.read() if proc.poll() is not None else ""
    finally:
        stop(proc)


def test_make_run_on_this_machine_needs_no_settings(tmp_path):
    port = free_port()
    env = clean_env(tmp_path, PORT=str(port),
                    WECHAT_API_BASE_URL=f"http://127.0.0.1:{free_port()}/")
    proc = subprocess.Popen([sys.executable, "-m", "devtools.devserver"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        assert answers(port, proc, seconds=90), proc.stdout.read() if proc.poll() else ""
    finally:
        stop(proc)


def test_make_run_on_the_network_refuses_the_demo_secrets(tmp_path):
    env = clean_env(tmp_path, HOST="0.0.0.0", PORT=str(free_port()))
    done = subprocess.run([sys.executable, "-m", "devtools.devserver"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    for name in DEMO_SECRETS:
        assert name in done.stderr
    assert "PEIXUN_DEMO=1" in done.stderr
