"""Investigation buttons: each runs one playbook step and answers in the finding's thread."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from blocks.ids import InvestigateAction
from blocks.investigate import (
    build_error_reply,
    build_investigation_actions,
    build_mitre_reply,
    build_related_reply,
    build_script_comment,
    build_script_reused_reply,
    build_virustotal_reply,
)
from blocks.investigate_cloud_run import build_container_reply, build_logs_reply
from blocks.slack import SlackMessage
from bot.errors import UserFacingError
from bot.finding import FindingRecord
from bot.investigate.script import ScriptFile, cut_scripts
from bot.investigate.service import Investigator
from bot.metrics import METRICS
from bot.pipeline import message_link
from bot.refs import FindingRef
from bot.services import Services
from bot.store import StoredFinding
from handlers.errors import refusals_shown

logger = logging.getLogger(__name__)

Answer = Callable[[FindingRecord], SlackMessage]


def register(app: App, services: Services) -> None:
    investigator = Investigator(
        services.google,
        services.settings,
        services.store,
        permalink=functools.partial(message_link, services.slack),
    )
    services.action_builders.append(
        functools.partial(
            build_investigation_actions, vt_enabled=services.settings.vt_api_key is not None
        )
    )
    answers: dict[InvestigateAction, Answer] = {
        InvestigateAction.RELATED: lambda r: _render(build_related_reply, investigator.related(r)),
        InvestigateAction.CONTAINER: lambda r: _render(
            build_container_reply, investigator.container(r)
        ),
        InvestigateAction.LOGS: lambda r: _render(build_logs_reply, investigator.logs(r)),
        InvestigateAction.VIRUSTOTAL: lambda r: _render(
            build_virustotal_reply, investigator.virustotal(r)
        ),
        InvestigateAction.MITRE: build_mitre_reply,
    }
    for action, answer in answers.items():
        app.action(action)(_answer_listener(services, action, answer))
    app.action(InvestigateAction.SCRIPT)(_script_listener(services, investigator))
    app.action(InvestigateAction.VIRUSTOTAL_LINK)(handle_virustotal_link_click)


def handle_virustotal_link_click(ack: Ack) -> None:
    """Acknowledge the link-only VirusTotal button; the browser opened the page."""
    ack()


def _answer_listener(services: Services, action: InvestigateAction, answer: Answer) -> Any:
    def handle_investigate_click(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Answer one investigation button in the finding's thread."""
        ack()

        loaded = _load(services, body, client)
        if loaded is None:
            return
        stored, record = loaded

        try:
            message = answer(record)
            result = "ok"
        except UserFacingError as exc:
            message, result = build_error_reply(exc.message), "refused"
        METRICS.actions_executed.labels(action=action.value, result=result).inc()

        _post(client, stored, message)

    return handle_investigate_click


def _script_listener(services: Services, investigator: Investigator) -> Any:
    def handle_script_click(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Upload the whole script as a file in the finding's thread."""
        ack()

        loaded = _load(services, body, client)
        if loaded is None:
            return
        stored, record = loaded
        scripts = cut_scripts(record)
        if not scripts:
            _post(client, stored, build_error_reply("The whole script is already in the message."))
            return

        # A second click within the cache's lifetime points at the file instead of re-posting.
        _, reused = investigator.cache.get_or_compute(
            record.key, "script", lambda: _upload(client, stored, scripts)
        )
        if reused:
            _post(client, stored, build_script_reused_reply())
        METRICS.actions_executed.labels(action=InvestigateAction.SCRIPT.value, result="ok").inc()

    return handle_script_click


def _render(build: Callable[..., SlackMessage], answer: tuple[Any, bool]) -> SlackMessage:
    result, reused = answer
    return build(result, reused=reused)


def _load(
    services: Services, body: dict[str, Any], client: WebClient
) -> tuple[StoredFinding, FindingRecord] | None:
    """Return the clicked finding, or tell the person why not and return None."""
    with refusals_shown(body, client):
        return _find(services, body)
    return None


def _find(services: Services, body: dict[str, Any]) -> tuple[StoredFinding, FindingRecord]:
    actions = body.get("actions") or [{}]
    ref = FindingRef.decode(actions[0].get("value"))
    stored = services.store.get(ref.finding)
    record = services.record(ref.finding)
    if stored is None or record is None or not stored.channel or not stored.message_ts:
        raise UserFacingError("The bot no longer has this finding; open it in SCC instead.")
    return stored, record


def _post(client: WebClient, stored: StoredFinding, message: SlackMessage) -> None:
    client.chat_postMessage(
        channel=stored.channel or "",
        thread_ts=stored.message_ts,
        text=message.text,
        blocks=message.blocks,
        unfurl_links=False,
        unfurl_media=False,
    )


def _upload(client: WebClient, stored: StoredFinding, scripts: tuple[ScriptFile, ...]) -> bool:
    for script in scripts:
        client.files_upload_v2(
            channel=stored.channel,
            thread_ts=stored.message_ts,
            content=script.contents,
            filename=script.filename,
            title=script.title,
            initial_comment=build_script_comment(script),
        )
        logger.info(
            "uploaded script %s to %s/%s", script.filename, stored.channel, stored.message_ts
        )
    return True
