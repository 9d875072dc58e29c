"""Webhook endpoint (framework-neutral aiohttp): constant-time secret check, then the pipeline."""

from __future__ import annotations

import hmac
import json
import logging
from urllib.parse import urlparse

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from bot.metrics import Observability
from bot.pipeline import UpdatePipeline

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105  # a header name, not a secret
MAX_BODY_BYTES = 1_000_000
PIPELINE_KEY = web.AppKey("pipeline", UpdatePipeline)


def webhook_path(webhook_url: str) -> str:
    """The local path the webhook is served on: the path of O2O_WEBHOOK_URL, '/webhook' if none."""
    return urlparse(webhook_url).path or "/webhook"


def make_webhook_app(
    pipeline: UpdatePipeline,
    secret: str,
    path: str,
    observability: Observability | None = None,
) -> web.Application:
    """An aiohttp app accepting Telegram's POSTs on `path`, with /healthz (and /metrics).

    The secret is required: without it anyone who finds the URL could post updates.
    """
    if not secret:
        raise ValueError("a webhook needs a secret token (O2O_WEBHOOK_SECRET)")
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        supplied = request.headers.get(SECRET_HEADER)
        if supplied is None:
            log.warning("webhook call without secret token refused")
            return web.Response(status=401, text="missing secret token")
        if not hmac.compare_digest(supplied.encode(), expected):
            log.warning("webhook call with a wrong secret token refused")
            return web.Response(status=403, text="wrong secret token")
        try:
            update = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="body is not JSON")
        if not isinstance(update, dict):
            return web.Response(status=400, text="body is not a JSON object")
        try:
            await pipeline.process(update)
        except DBAPIError:
            log.exception("database unavailable; asking Telegram to redeliver")
            return web.Response(status=503, text="retry later")
        return web.Response(status=200, text="ok")

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[PIPELINE_KEY] = pipeline
    app.router.add_post(path, receive)
    if observability is not None:
        observability.add_routes(app)
    else:
        app.router.add_get("/healthz", health)
    return app
