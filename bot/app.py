"""The application factory."""

from __future__ import annotations

import logging

from flask import Flask, Response
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from bot.config import Settings, load_settings
from bot.runtime import Runtime, build_runtime
from bot.webhook import bp

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the Flask app. Tests pass a ``runtime``; ``serve`` builds one from settings."""
    if runtime is None:
        runtime = build_runtime(settings or load_settings())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["gridbot"] = runtime
    app.register_blueprint(bp)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 400
        return Response(exc.name.lower(), status=code, mimetype="text/plain")

    @app.errorhandler(OperationalError)
    def database_down(exc: OperationalError) -> Response:
        # Nothing was acknowledged: WeCom retries a non-200, so the message is not lost.
        log.error("database unavailable: %s", type(exc.orig).__name__)
        return Response("service unavailable", status=503, mimetype="text/plain")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error in %s", type(exc).__name__)
        return Response("internal error", status=500, mimetype="text/plain")

    return app
