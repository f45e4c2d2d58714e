"""`make run`: the app with the Flask server, the outbox worker beside it, and the fake WeChat
API when WECHAT_API_BASE_URL points at this machine; all in the foreground, Ctrl-C stops all."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from werkzeug.serving import make_server

import worker
from cli.database import migrate
from cli.demo import load_demo_data
from devtools.fake_wechat import create_fake_wechat
from models.catalogue import ClassSession
from models.demo import DEMO_DESK_PASSWORD, DEMO_DESK_USERS, load_demo_desk
from models.demo_history import is_demo_session, place_demo_session
from runtime.config import Config, ConfigError
from runtime.services import Services
from webhooks.app import create_app

logger = logging.getLogger("peixun.devserver")


def demo_desk(services: Services) -> bool:
    """Desk users with the public demo password, for the local demo server only: a database
    loaded by `flask demo load`, or anything in production, never gets them."""
    if services.config.is_production:
        return False
    with services.sessions.begin() as db:
        load_demo_desk(db, now=services.clock.now())
    return True


def demo_session(services: Services) -> ClassSession | None:
    """The demo's live class has a session whose check-in is open now, whatever the hour (one
    is placed if need be: models.demo_history); none in production."""
    if services.config.is_production:
        return None
    with services.sessions.begin() as db:
        session = place_demo_session(db, now=services.clock.now())
        if session is None:
            return None
        label = " (a demo session, not in the timetable)" if is_demo_session(db, session) else ""
        logger.info("check-in open now: %s, %s–%s%s; as demo-staff, 开课 gives the display's "
                    "link", session.course.code, session.starts.strftime("%H:%M"),
                    session.ends.strftime("%H:%M"), label)
    return session


def main() -> None:
    try:
        # A HOST other machines reach needs secrets of its own, or PEIXUN_DEMO=1.
        config = Config.from_env()
    except ConfigError as error:
        raise SystemExit(f"Peixun does not start: {error}") from None
    app = create_app(config)
    # Werkzeug's access log prints query strings (signatures, openids); ours does not.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    services = app.extensions["peixun"]
    migrate(services.engine)
    history = not config.is_production
    if load_demo_data(services, only_if_empty=True, history=history) and demo_desk(services):
        logger.info("demo data loaded into the empty database, with a year of history; the "
                    "desk: http://%s:%s/admin/ (%s, password %s)", config.host, config.port,
                    " / ".join(name for name, _, _ in DEMO_DESK_USERS), DEMO_DESK_PASSWORD)
    demo_session(services)
    api = urlsplit(config.wechat_api_base_url)
    if api.hostname in ("127.0.0.1", "localhost"):
        fake = make_server(api.hostname, api.port or 80, create_fake_wechat(), threaded=True)
        threading.Thread(target=fake.serve_forever, daemon=True).start()
        logger.info("fake WeChat API on %s (sent messages: %s_fake/sent)",
                    config.wechat_api_base_url, config.wechat_api_base_url)
    stop = threading.Event()
    threading.Thread(target=worker.run, args=(services, stop), daemon=True).start()
    logger.info("Peixun on http://%s:%s/wechat (token %s); talk to it with `make chat`",
                config.host, config.port, "set" if config.wechat_token else "unset")
    try:
        app.run(host=config.host, port=config.port, use_reloader=False, threaded=True)
    finally:
        stop.set()


if __name__ == "__main__":
    main()
