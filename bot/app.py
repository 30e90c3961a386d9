"""Build the Slack (Bolt) app and the HTTP server around it."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from sqlalchemy import text

from bot.housekeeping import Task
from bot.logs import TRACE_HEADER, ContextExecutor, reset_trace, set_trace
from bot.metrics import METRICS
from bot.push import PushAuthError, PushVerifier, handle_push
from bot.replay import ReplayGuard
from bot.services import Services
from bot.slack_body import body_problem
from handlers import register_all

logger = logging.getLogger(__name__)

LISTENER_THREADS = 32


def build_bolt_app(services: Services) -> App:
    """Return the Bolt app with every surface registered."""
    settings = services.settings
    app = App(
        client=services.slack,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        # The token is checked by /readyz; verifying it here would call Slack at import.
        token_verification_enabled=False,
        process_before_response=False,
        # Listeners run after the ack; this pool carries the request's trace into them.
        # Listeners acknowledge first and then call Google Cloud from the same thread; with
        # too few threads, a click waits for earlier clicks' lookups before it can even ack.
        listener_executor=ContextExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="bolt"),
    )
    register_all(app, services)
    return app


def build_http_app(services: Services, bolt: App | None = None) -> Flask:
    """Return the WSGI app: Slack requests, Pub/Sub push, health and metrics."""
    bolt = bolt or build_bolt_app(services)
    slack_handler = SlackRequestHandler(bolt)
    settings = services.settings
    verifier = None
    if settings.pubsub_push_verify and settings.pubsub_push_audience:
        verifier = PushVerifier(
            audience=settings.pubsub_push_audience,
            service_account=settings.pubsub_push_service_account,
            certs_url=settings.pubsub_push_certs_url,
        )
    flask_app = Flask("scc_slack_bot")
    flask_app.config["MAX_CONTENT_LENGTH"] = 12 * 1024 * 1024

    @flask_app.before_request
    def capture_trace() -> None:
        g.trace_token = set_trace(request.headers.get(TRACE_HEADER))

    @flask_app.teardown_request
    def forget_trace(_error: BaseException | None) -> None:
        token = g.pop("trace_token", None)
        if token is not None:
            reset_trace(token)

    replay_guard = ReplayGuard(services.engine, settings.slack_signing_secret.get_secret_value())
    services.periodic.append(Task("forget old Slack signatures", 300.0, replay_guard.forget_old))

    @flask_app.post("/slack/events")
    def slack_events() -> Any:
        refusal = replay_guard.refusal(request.get_data(), dict(request.headers))
        if refusal is not None:
            return Response(refusal, status=401)
        problem = body_problem(request.get_data(), request.content_type)
        if problem is not None:
            logger.warning("refused a malformed Slack request: %s", problem)
            return Response(
                f"malformed Slack request: {problem}", status=400, mimetype="text/plain"
            )
        try:
            return slack_handler.handle(request)
        except (ValueError, LookupError, TypeError, AttributeError) as exc:
            # Listeners run after the response, so what raises here is Bolt reading the body.
            logger.warning("refused a Slack request Bolt could not read: %r", exc)
            return Response("malformed Slack request", status=400, mimetype="text/plain")

    @flask_app.post("/pubsub/push")
    def pubsub_push() -> Any:
        if verifier is not None:
            try:
                verifier.verify(request.headers.get("Authorization"))
            except PushAuthError as exc:
                logger.warning("push request refused: %s", exc)
                return Response("unauthorized", status=401)
        elif settings.pubsub_push_verify:
            logger.error("push request refused: PUBSUB_PUSH_AUDIENCE is not configured")
            return Response("push endpoint not configured", status=403)
        status, body = handle_push(services.pipeline, request.get_data())
        return Response(body, status=status)

    @flask_app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok"}

    @flask_app.get("/readyz")
    def readyz() -> Any:
        problems = _readiness_problems(services)
        if problems:
            return {"status": "unavailable", "problems": problems}, 503
        return {"status": "ready"}

    @flask_app.get("/metrics")
    def metrics() -> Any:
        return Response(generate_latest(METRICS.registry), mimetype=CONTENT_TYPE_LATEST)

    return flask_app


def _readiness_problems(services: Services) -> list[str]:
    problems = []
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means not ready
        problems.append(f"database: {type(exc).__name__}")
    try:
        services.slack.auth_test()
    except Exception as exc:
        problems.append(f"slack: {type(exc).__name__}")
    return problems
