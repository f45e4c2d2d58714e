"""The Flask application factory."""

from __future__ import annotations

import logging
import time

from flask import Flask, Request, Response, g, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

import cli
from bot import understanding
from locales import N_, translator
from runtime import logs
from runtime.config import Config
from runtime.services import build_services
from webhooks import admin, api, dedup, pages, wechat
from webhooks.locale import request_locale
from webhooks.routing import BoundedInt, route

logger = logging.getLogger("peixun.request")

# What a person reads when a request fails; never a stack trace.
ERROR_TEXTS = {
    400: N_("The request could not be read."),
    403: N_("You are not allowed to do this."),
    404: N_("This page does not exist."),
    405: N_("This page does not exist."),
    413: N_("The message is too large."),
    429: N_("Too many requests. Please wait a minute and try again."),
    500: N_("Sorry, something went wrong on our side. Please try again in a minute."),
    503: N_("The service is busy. Please try again in a minute."),
}


def create_app(config: Config | None = None, **overrides) -> Flask:
    """Build the app; ``overrides`` replace services (engine, sessions, kv, clock) in tests."""
    config = config or Config.from_env()
    logs.configure()
    app = Flask(__name__)
    # Before any route is added: every <int:…> of the app is bounded (past it: 404, not 500).
    app.url_map.converters["int"] = BoundedInt
    if config.trusted_proxy_hops > 0:
        # Behind the load balancer every request comes from its address: take the client's
        # from X-Forwarded-For, trusting only as many entries as there are proxies of ours.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxy_hops)
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAX_CONTENT_LENGTH=config.max_body_bytes,
        TESTING=config.testing,
    )
    app.session_interface = CookieSessions()
    app.extensions["peixun"] = build_services(config, **overrides)
    # The callback's own: keeps the in-progress marks of this process's first deliveries alive.
    app.extensions["peixun.renewer"] = dedup.Renewer(app.extensions["peixun"].kv,
                                                     config.pending_seconds)
    understanding.warm_up()  # jieba and pypinyin load beside the start, not in a first message
    app.register_blueprint(wechat.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
    api.register(app)
    cli.register(app)
    _log_requests(app)
    _answer_errors(app)
    return app


class CookieSessions(SecureCookieSessionInterface):
    """The desk's signed cookie session, not opened for WeChat's callback: WeChat sends no
    cookie, and building the cookie's signer cost every message as much as its logging."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path == "/wechat":
            return SecureCookieSession()  # empty and never modified: no cookie is set
        return super().open_session(app, request)


def _log_requests(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        logger.info("%s %s %s %.1fms", request.method, route(), response.status_code, elapsed)
        return response


def _answer_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        text = translator(request_locale())._(ERROR_TEXTS.get(error.code or 500, ERROR_TEXTS[400]))
        return Response(text, status=error.code, mimetype="text/plain")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, route())
        text = translator(request_locale())._(ERROR_TEXTS[500])
        return Response(text, status=500, mimetype="text/plain")
