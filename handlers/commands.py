"""The slash command: look up one finding or list findings, answered to the caller alone.

Input is validated while Slack waits for the acknowledgement, so a typo is answered at once
and never reaches SCC; the SCC call runs after the acknowledgement and its answer goes to
the command's response_url as an ephemeral message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks.commands import (
    ListedFinding,
    build_help,
    build_list_page,
    build_notice,
    build_show,
    shared_by_notice,
)
from blocks.finding import MessageContext, build_finding_message
from blocks.ids import CommandAction
from blocks.slack import SlackMessage
from bot import links
from bot.config import Settings
from bot.errors import NotAllowed, UserFacingError
from bot.finding import FindingRecord
from bot.finding_query import (
    CONSOLE_HOST,
    FindingQuery,
    ListQuery,
    LookupInputError,
    clean_text,
    finding_name,
    parse_finding_query,
    parse_list_args,
)
from bot.lookup import check_in_scope, fetch_finding, list_findings, resolve_finding_id
from bot.pipeline import message_link
from bot.refs import MAX_VALUE, FindingRef, finding_ref
from bot.services import Services

logger = logging.getLogger(__name__)

NOT_ALLOWED = ":no_entry: You may not use this command here. Ask the security team."


def answer_command(services: Services, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
    """Validate the command while Slack waits, then answer it after the SCC call."""
    settings = services.settings
    user, channel = command.get("user_id", ""), command.get("channel_id", "")
    if not may_use(settings, user, channel):
        logger.info("command refused for %s in %s", user, channel)
        _ack(ack, build_notice(NOT_ALLOWED))
        return
    subcommand, _, rest = clean_text(command.get("text", "")).partition(" ")
    subcommand = subcommand.lower()
    logger.info("command %s %s by %s", settings.slack_command, subcommand or "help", user)

    if subcommand == "show":
        try:
            query = parse_finding_query(rest, console_hosts=console_hosts(settings))
            if query.name:
                check_in_scope(query.name, settings.scc_parent)
        except LookupInputError as exc:
            _ack(ack, build_notice(exc.message))
            return
        _ack(ack, build_notice(":mag: Looking the finding up in Security Command Center…"))
        _answer(respond, lambda: _show(services, query))
    elif subcommand == "list":
        try:
            list_query = parse_list_args(rest, now=datetime.now(UTC))
        except LookupInputError as exc:
            _ack(ack, build_notice(exc.message))
            return
        _ack(ack, build_notice(":mag: Listing findings from Security Command Center…"))
        _answer(respond, lambda: _list(services, list_query, channel))
    else:
        note = ""
        if subcommand not in ("", "help"):
            note = f"I don't know `{subcommand[:30].replace('`', '')}`."
        _ack(ack, build_help(settings.slack_command, note=note))


def share_finding(
    services: Services, ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient
) -> None:
    """Post the finding a person looked up into the channel they looked it up in."""
    ack()

    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
    if not may_use(services.settings, user, channel):
        raise NotAllowed(NOT_ALLOWED)
    ref = FindingRef.decode(body["actions"][0].get("value"))
    name = finding_name(ref.finding)
    if not name:
        raise UserFacingError("That button is from an older message; look the finding up again.")

    def post() -> None:
        record = fetch_finding(services.google.scc, name, scc_parent=services.settings.scc_parent)
        ctx = _context(services, record, notices=(shared_by_notice(user),))
        message = build_finding_message(record, ctx)
        try:
            client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            if exc.response.get("error") in ("not_in_channel", "channel_not_found"):
                raise UserFacingError(
                    "The bot is not in this channel; invite it, then share again."
                ) from exc
            raise
        logger.info("finding %s shared by %s in %s", record.key, user, channel)
        return None

    _answer(respond, post)


def next_page(services: Services, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
    """Replace a page of the list with the next one."""
    ack()

    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
    if not may_use(services.settings, user, channel):
        raise NotAllowed(NOT_ALLOWED)
    query = ListQuery.decode(body["actions"][0].get("value"))

    _answer(respond, lambda: _list(services, query, channel), replace_original=True)


def may_use(settings: Settings, user: str, channel: str) -> bool:
    """Return whether COMMAND_USERS and COMMAND_CHANNELS let this person use the command here."""
    if settings.command_users and user not in settings.command_users:
        return False
    return not settings.command_channels or channel in settings.command_channels


def console_hosts(settings: Settings) -> tuple[str, ...]:
    """Return the hosts whose finding links are accepted: Google's console and GCP_CONSOLE_URL."""
    configured = urlsplit(settings.gcp_console_url).hostname
    return (CONSOLE_HOST, configured) if configured else (CONSOLE_HOST,)


def _show(services: Services, query: FindingQuery) -> SlackMessage:
    name = query.name or resolve_finding_id(services.store, query.finding_id)
    record = fetch_finding(services.google.scc, name, scc_parent=services.settings.scc_parent)
    return build_show(record, _context(services, record), share_value=finding_ref(record.key))


def _list(services: Services, query: ListQuery, channel: str) -> SlackMessage:
    settings = services.settings
    page = list_findings(services.google.scc, query, scc_parent=settings.scc_parent)
    items = [_listed(services, record) for record in page.records]
    more = None
    if page.next_page_token:
        following = query.next_page(page.next_page_token, shown=len(items))
        encoded = following.encode()
        # A page token too long for a button would leave "more" dead; end the list instead.
        more = encoded if len(encoded) <= MAX_VALUE else None
    return build_list_page(
        items,
        description=query.describe(),
        total=page.total,
        first=query.offset + 1,
        more_value=more,
    )


def _listed(services: Services, record: FindingRecord) -> ListedFinding:
    stored = services.store.get(record.key)
    if stored is not None and stored.channel and stored.message_ts:
        link = message_link(services.slack, stored.channel, stored.message_ts)
        if link:
            return ListedFinding(record=record, link=link, posted=True)
    console = links.finding_console_url(
        record.key,
        organization_id=record.organization_id,
        base=services.settings.gcp_console_url,
    )
    return ListedFinding(record=record, link=console, posted=False)


def _context(
    services: Services, record: FindingRecord, *, notices: tuple[str, ...] = ()
) -> MessageContext:
    return MessageContext(
        console_base=services.settings.gcp_console_url,
        actions=services.finding_actions(record),
        notices=notices,
    )


def _ack(ack: Ack, message: SlackMessage) -> None:
    ack(text=message.text, blocks=message.blocks, response_type="ephemeral")


def _answer(
    respond: Respond,
    build: Callable[[], SlackMessage | None],
    *,
    replace_original: bool = False,
) -> None:
    """Send what ``build`` returns to the response_url (None: remove the original)."""
    try:
        message = build()
    except UserFacingError as exc:
        # The response_url reaches the person even where the bot is not a channel member,
        # which chat.postEphemeral (the shared error handler's way) does not.
        notice = build_notice(exc.message)
        respond(
            text=notice.text,
            blocks=notice.blocks,
            response_type="ephemeral",
            replace_original=False,
        )
        return
    if message is None:
        respond(delete_original=True)
        return
    respond(
        text=message.text,
        blocks=message.blocks,
        response_type="ephemeral",
        replace_original=replace_original,
    )


def register(app: App, services: Services) -> None:
    def handle_scc_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        """Answer the slash command."""
        answer_command(services, ack, command, respond)

    def handle_share_click(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        """Share a looked-up finding in the channel."""
        share_finding(services, ack, body, respond, client)

    def handle_more_click(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        """Show the next page of a list."""
        next_page(services, ack, body, respond)

    app.command(services.settings.slack_command)(handle_scc_command)
    app.action(CommandAction.SHARE)(handle_share_click)
    app.action(CommandAction.MORE)(handle_more_click)
