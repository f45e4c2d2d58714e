"""A private PostgreSQL 15 cluster for the benchmarks: initdb into a directory of its own, on a
port of its own (127.0.0.1 only), and a streaming replica of it (pg_basebackup -R). Everything
lives under one directory, removed by ``remove()``."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("PEIXUN_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port(preferred: int) -> int:
    for port in (preferred, *range(preferred + 1, preferred + 50)):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port")


class Cluster:
    """One PostgreSQL server: ``pgdata`` under ``root``, listening on 127.0.0.1:``port``."""

    def __init__(self, root: Path, name: str, port: int) -> None:
        self.root = root
        self.pgdata = root / name
        self.port = port
        self.log = root / f"{name}.log"
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_of(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_postgres, *args], check=True, stdout=subprocess.DEVNULL)

    def init(self, settings: dict[str, str]) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.pgdata), "-U", "postgres", "-A",
                  "trust", "-E", "UTF8", "--no-sync")
        with open(self.pgdata / "postgresql.auto.conf", "a") as conf:
            for name, value in settings.items():
                conf.write(f"{name} = '{value}'\n")
        with open(self.pgdata / "pg_hba.conf", "a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")

    def start(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log), "-w",
                  "-t", "120", "-o", f"-p {self.port} -k {self.root} "
                  "-c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            subprocess.run([*self.as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata),
                            "-m", "fast", "-w", "-t", "120", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def replica(self, name: str, port: int) -> Cluster:
        """A streaming replica of this server (pg_basebackup -R: standby.signal and
        primary_conninfo written for us), started."""
        standby = Cluster(self.root, name, port)
        self._run(str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", "-D", str(standby.pgdata), "-R", "-X", "stream", "-c", "fast",
                  "--no-sync")
        standby.start()
        return standby


def wait_ready(url: str, seconds: float = 60) -> None:
    import psycopg

    deadline = time.monotonic() + seconds
    while True:
        try:
            psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), connect_timeout=2
                            ).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def remove(root: Path, *clusters: Cluster) -> None:
    for cluster in clusters:
        cluster.stop()
    shutil.rmtree(root, ignore_errors=True)
