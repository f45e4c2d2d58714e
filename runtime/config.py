"""Configuration from the environment: the only place that reads ``os.environ``."""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Secrets that a production deployment must set itself: the demo values below are public.
PRODUCTION_SECRETS = (
    "SECRET_KEY",
    "PEIXUN_DATA_KEY",
    "WECHAT_TOKEN",
    "WECHAT_APP_ID",
    "WECHAT_APP_SECRET",
    # Links the bot sends must reach people's phones, not this server's loopback address.
    "PUBLIC_BASE_URL",
)


# Hosts that only this machine reaches: the demo secrets are fine there (`make run`).
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


class ConfigError(RuntimeError):
    """Start-up must stop: the message says what to set."""


@dataclass(frozen=True)
class Config:
    env: str = "development"
    host: str = "127.0.0.1"
    port: int = 5000
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'instance' / 'peixun.db'}"
    # A streaming replica of the database (optional): the heavy reads (the dashboard, its
    # lists, the export files) go there when set; everything else reads and writes the
    # primary. README, "A read replica", says what its lag means for each page.
    database_replica_url: str | None = None
    redis_url: str | None = None
    secret_key: str = "dev-secret-key-not-for-production"
    # Key for personal data at rest (ID numbers, phones): any string; a key is derived from it.
    data_key: str = "dev-data-key-not-for-production"
    wechat_token: str = "peixun-dev-token"
    wechat_app_id: str = "wxdemo0000000000"
    wechat_app_secret: str = "demo-app-secret"
    wechat_encoding_aes_key: str | None = None
    wechat_api_base_url: str = "http://127.0.0.1:5001/"
    # The mini-program's own app id and secret (code2session); unset in production: sign-in
    # through the mini-program API then answers 503.
    wechat_miniprogram_app_id: str = "wxdemominiprogram0"
    wechat_miniprogram_app_secret: str = "demo-miniprogram-secret"
    # Template used for a notice outside WeChat's 48-hour customer-message window.
    wechat_notice_template_id: str | None = None
    public_base_url: str = ""
    max_body_bytes: int = 64 * 1024
    # A person may send this many messages a minute before the bot asks them to slow down
    # (staff scanning a whole class at its start stay well under it).
    messages_per_minute: int = 60
    # The server processes that share the work (gunicorn's WORKERS): with Redis down each
    # counts a sender's messages alone, so each allows its share of the limit, never the whole.
    processes: int = 1
    dedup_seconds: int = 300
    # A first delivery's "in progress" mark lives this long and is renewed while the work runs
    # (webhooks.dedup.Renewer): if the process dies, the mark is gone within this time, and a
    # retry that came in meanwhile (WeChat's come 5 s apart) sees it go and acts.
    pending_seconds: int = 3
    dialogue_seconds: int = 30 * 60
    # Follow-up rounds after a course's end, in months (FOLLOWUP_MONTHS="1,6").
    followup_months: tuple[int, ...] = (1, 6)
    # Proxies of ours in front of the app (the load balancer: 1). Their X-Forwarded-For gives
    # the client's address, which rate limits count by; 0 ignores the header (a client sets it).
    trusted_proxy_hops: int = 0
    # Where a person reaches a human: the county's public employment service centre. The bot
    # gives them (with the national line 12333) to whoever asks for a person and at every dead
    # end. THE DEMO VALUES ARE NOT A REAL NUMBER; unset in production, only 12333 is given.
    service_phone: str = "0874-0000000"
    service_hours: str = "周一至周五 9:00–12:00、14:30–17:30"
    testing: bool = False

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_safe_mode(self) -> bool:
        return bool(self.wechat_encoding_aes_key)

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    def but(self, **changes) -> Config:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        production = env.get("PEIXUN_ENV", "development") == "production"
        _refuse_public_secrets(env, production=production)
        defaults = cls()
        base_url_default = (
            "https://api.weixin.qq.com/" if production else defaults.wechat_api_base_url
        )
        config = cls(
            env="production" if production else env.get("PEIXUN_ENV", "development"),
            host=env.get("HOST", defaults.host),
            port=int(env.get("PORT", defaults.port)),
            database_url=env.get("DATABASE_URL") or defaults.database_url,
            database_replica_url=env.get("DATABASE_REPLICA_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            secret_key=env.get("SECRET_KEY") or defaults.secret_key,
            data_key=env.get("PEIXUN_DATA_KEY") or defaults.data_key,
            wechat_token=env.get("WECHAT_TOKEN") or defaults.wechat_token,
            wechat_app_id=env.get("WECHAT_APP_ID") or defaults.wechat_app_id,
            wechat_app_secret=env.get("WECHAT_APP_SECRET") or defaults.wechat_app_secret,
            wechat_encoding_aes_key=env.get("WECHAT_ENCODING_AES_KEY") or None,
            wechat_api_base_url=_with_slash(env.get("WECHAT_API_BASE_URL") or base_url_default),
            wechat_notice_template_id=env.get("WECHAT_NOTICE_TEMPLATE_ID") or None,
            wechat_miniprogram_app_id=env.get("WECHAT_MINIPROGRAM_APP_ID")
            or ("" if production else defaults.wechat_miniprogram_app_id),
            wechat_miniprogram_app_secret=env.get("WECHAT_MINIPROGRAM_APP_SECRET")
            or ("" if production else defaults.wechat_miniprogram_app_secret),
            public_base_url=env.get("PUBLIC_BASE_URL", ""),
            followup_months=_months(env.get("FOLLOWUP_MONTHS")) or defaults.followup_months,
            trusted_proxy_hops=_hops(env.get("TRUSTED_PROXY_HOPS")),
            processes=_processes(env.get("WORKERS")),
            service_phone=_setting(env, "SERVICE_PHONE", defaults.service_phone, production),
            service_hours=_setting(env, "SERVICE_HOURS", defaults.service_hours, production),
        )
        config.validate()
        return config

    def validate(self) -> None:
        key = self.wechat_encoding_aes_key
        if key is not None and len(key) != 43:
            raise ConfigError(
                "WECHAT_ENCODING_AES_KEY must be the 43 characters shown in the WeChat console."
            )


def demo_values() -> dict[str, str]:
    """The public values the code falls back on, by environment variable: anyone who has read
    the code knows them (they forge page links, unseal personal data, sign callbacks)."""
    demo = Config()
    return {"SECRET_KEY": demo.secret_key, "PEIXUN_DATA_KEY": demo.data_key,
            "WECHAT_TOKEN": demo.wechat_token, "WECHAT_APP_ID": demo.wechat_app_id,
            "WECHAT_APP_SECRET": demo.wechat_app_secret,
            "WECHAT_MINIPROGRAM_APP_SECRET": demo.wechat_miniprogram_app_secret}


def is_loopback(host: str) -> bool:
    """Whether only this machine reaches ``host`` (``0.0.0.0`` and ``::`` reach everyone)."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _refuse_public_secrets(env, *, production: bool) -> None:
    """Production (PEIXUN_ENV=production, which `make serve` sets) and a server other machines
    reach (a HOST that is not loopback) need secrets of their own: each of PRODUCTION_SECRETS
    set, and none of the public demo values, unless PEIXUN_DEMO=1 says it is a demo (not in
    production)."""
    host = env.get("HOST") or Config.host
    if not production and (env.get("PEIXUN_DEMO") == "1" or is_loopback(host)):
        return
    demo = demo_values()
    problems = []
    for name in dict.fromkeys((*PRODUCTION_SECRETS, *demo)):
        value = env.get(name)
        if not value and name in PRODUCTION_SECRETS:
            problems.append(f"{name} (unset)")
        elif value and value == demo.get(name):
            problems.append(f"{name} (the public demo value)")
    if not problems:
        return
    why = ("PEIXUN_ENV=production" if production
           else f"HOST={host} (reached from other machines)")
    raise ConfigError(
        f"{why} needs secrets of its own, these are unset or public: " + ", ".join(problems)
        + ". See README.md, section Configuration. For a demo with the public values, "
        + ("`make serve` with PEIXUN_DEMO=1 does not set PEIXUN_ENV=production."
           if production else "set PEIXUN_DEMO=1."))


def _setting(env, name: str, demo: str, production: bool) -> str:
    """A plain setting: its value, or the demo's outside production and nothing in it."""
    value = (env.get(name) or "").strip()
    return value or ("" if production else demo)


def _processes(value: str | None) -> int:
    """WORKERS as a count of processes; anything else is one (the demo server's)."""
    return max(1, int(value)) if value and value.strip().isdigit() else 1


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _months(value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    try:
        months = tuple(sorted({int(part) for part in value.replace(" ", "").split(",") if part}))
    except ValueError:
        raise ConfigError('FOLLOWUP_MONTHS is a list of months, for example "1,6".') from None
    if not months or any(m < 1 or m > 36 for m in months):
        raise ConfigError('FOLLOWUP_MONTHS is a list of months from 1 to 36, for example "1,6".')
    return months


def _hops(value: str | None) -> int:
    try:
        hops = int(value or 0)
    except ValueError:
        hops = -1
    if not 0 <= hops <= 5:
        raise ConfigError("TRUSTED_PROXY_HOPS is the number of proxies in front of the app, "
                          "from 0 (none) to 5, for example 1 behind one load balancer.")
    return hops


def main() -> int:
    """``python -m runtime.config``: check the environment's configuration, as the app will at
    start-up; say what is wrong in one line and exit 1, or exit 0."""
    try:
        Config.from_env()
    except ConfigError as error:
        sys.stderr.write(f"Peixun does not start: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
