"""Parse what people type in Slack to name SCC findings: names, ids, console links, filters.

Pure and strict: every value is matched against a pattern before it can reach an SCC filter,
so nothing typed in Slack is pasted into a query as it was typed. The calls to SCC and the
store that use these values live in bot.lookup.
"""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from blocks.text import inline_code
from bot.errors import UserFacingError
from bot.severity import Severity

CONSOLE_HOST = "console.cloud.google.com"
MAX_SINCE = timedelta(days=365)

_ORG_OR_FOLDER = r"(?:organizations|folders)/\d{1,20}"
_PROJECT = r"(?:\d{1,20}|[a-z][a-z0-9\-]{4,28}[a-z0-9])"
_SCOPE = rf"(?:{_ORG_OR_FOLDER}|projects/{_PROJECT})"
_SOURCE = r"\d{1,32}"
_LOCATION = r"[a-z][a-z0-9\-]{0,62}"
# SCC finding ids are alphanumeric, 1 to 32 characters.
_FINDING_ID = r"[A-Za-z0-9]{1,32}"

V2_NAME = re.compile(
    rf"^(?P<scope>{_SCOPE})/sources/(?P<source>{_SOURCE})"
    rf"/locations/(?P<location>{_LOCATION})/findings/(?P<id>{_FINDING_ID})$"
)
V1_NAME = re.compile(
    rf"^(?P<scope>{_SCOPE})/sources/(?P<source>{_SOURCE})/findings/(?P<id>{_FINDING_ID})$"
)
# A bare id shorter than 8 characters is far more likely a typo than a finding.
BARE_ID = re.compile(r"^[A-Za-z0-9]{8,32}$")
SCC_PARENT = re.compile(rf"^{_SCOPE}$")
PROJECT_ID = re.compile(r"^[a-z][a-z0-9\-]{4,28}[a-z0-9]$")
PROJECT_NUMBER = re.compile(r"^\d{1,20}$")
CATEGORY = re.compile(r"^[A-Za-z0-9 :_\-.]{1,100}$")
SINCE = re.compile(r"^(?P<count>\d{1,4})(?P<unit>[mhd])$")
STATES = ("ACTIVE", "INACTIVE")
SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)

SHOW_EXAMPLE = (
    "`show organizations/123/sources/456/locations/global/findings/abc123`, "
    "a finding id, or a link to the finding in the Security Command Center console"
)
LIST_EXAMPLE = "`list severity=CRITICAL,HIGH category=Reverse Shell project=acme-prod since=24h`"

_SPACE_LIKE = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\r\n]+")
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'"})
_WRAPPERS = "\"'`*_"
_SLACK_LINK = re.compile(r"^<([^<>|]+)(?:\|[^<>]*)?>$")


class LookupInputError(UserFacingError):
    """What was typed is not something the bot can look up; the message shows an example."""


def clean_text(raw: str) -> str:
    """Undo what chat does to pasted text: odd spaces, invisible marks, curly quotes."""
    text = _INVISIBLE.sub("", raw)
    text = _SPACE_LIKE.sub(" ", text).translate(_QUOTES)
    return " ".join(text.split())


def clean_token(raw: str) -> str:
    """Strip the quotes, emphasis and link brackets Slack or a person put around a value."""
    token = clean_text(raw)
    previous = None
    while token and token != previous:
        previous = token
        match = _SLACK_LINK.match(token)
        if match:
            token = match.group(1)
        if len(token) >= 2 and token[0] == token[-1] and token[0] in _WRAPPERS:
            token = token[1:-1].strip()
        token = token.rstrip(".,;")
    # Slack escapes &, < and > in the text it sends.
    return html.unescape(token) if "&" in token else token


# -- one finding ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingQuery:
    """A finding to fetch: a v2 name, or a bare id to resolve from the store first."""

    name: str = ""
    finding_id: str = ""


def parse_finding_query(
    raw: str, *, console_hosts: Sequence[str] = (CONSOLE_HOST,)
) -> FindingQuery:
    """Parse a finding name (v1, v2 or canonical), a bare id or a console URL.

    Raises:
        LookupInputError: the text is none of these.
    """
    token = clean_token(raw)
    if not token:
        raise LookupInputError(f"Which finding? Try {SHOW_EXAMPLE}.")
    if " " in token:
        raise LookupInputError(f"Give one finding at a time. Try {SHOW_EXAMPLE}.")
    if token.lower().startswith(("https://", "http://")):
        name = name_from_console_url(token, console_hosts)
        if name is None:
            raise LookupInputError(
                f"{inline_code(token, 120)} is not a Security Command Center finding link. "
                f"Try {SHOW_EXAMPLE}."
            )
        token = name
    v2 = finding_name(token)
    if v2:
        return FindingQuery(name=v2)
    if BARE_ID.match(token):
        return FindingQuery(finding_id=token)
    raise LookupInputError(f"{inline_code(token, 120)} is not a finding name. Try {SHOW_EXAMPLE}.")


def finding_name(text: str) -> str:
    """Return the v2 name of a v1 or v2 finding name, or an empty string."""
    if V2_NAME.match(text):
        return text
    match = V1_NAME.match(text)
    if match:
        # v1 names carry no location; SCC keeps them in ``global``.
        return f"{match['scope']}/sources/{match['source']}/locations/global/findings/{match['id']}"
    return ""


def name_from_console_url(url: str, hosts: Sequence[str] = (CONSOLE_HOST,)) -> str | None:
    """Return the finding name a console link points at, or None.

    Two forms are known: ``…/security/command-center/findingsv2;name=<encoded name>?…`` and
    the older ``…/security/command-center/findings?…&resourceId=<name>``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme != "https" or (parts.hostname or "") not in hosts:
        return None
    path, *matrix = parts.path.split(";")
    if path.rstrip("/") not in (
        "/security/command-center/findingsv2",
        "/security/command-center/findings",
    ):
        return None
    candidates = [
        unquote(value) for key, _, value in (p.partition("=") for p in matrix) if key == "name"
    ]
    query = parse_qs(parts.query)
    candidates += query.get("resourceId", []) + query.get("name", [])
    for candidate in candidates:
        name = finding_name(candidate.strip())
        if name:
            return name
    return None


# -- listing --------------------------------------------------------------------------------


class ListQuery(BaseModel):
    """A validated ``list`` request; also the value of its "more" button."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severities: tuple[Severity, ...] = Field(default=(), alias="sv", max_length=4)
    category: str = Field(default="", alias="c", max_length=100, pattern=r"^[A-Za-z0-9 :_\-.]*$")
    project: str = Field(
        default="",
        alias="p",
        max_length=30,
        pattern=r"^(?:\d{1,20}|[a-z][a-z0-9\-]{4,28}[a-z0-9])?$",
    )
    state: str = Field(default="ACTIVE", alias="st", pattern=r"^(?:ACTIVE|INACTIVE)$")
    after: datetime | None = Field(default=None, alias="a")
    # Where the page starts in the whole list, for "Findings 11–20".
    offset: int = Field(default=0, alias="o", ge=0, le=100_000)
    page_token: str = Field(
        default="", alias="t", max_length=1500, pattern=r"^[A-Za-z0-9+/=_\-.~]*$"
    )

    def scc_filter(self) -> str:
        """Return the SCC filter for this query, built from validated values only."""
        parts = [f'state="{self.state}"']
        if self.severities:
            either = " OR ".join(f'severity="{severity}"' for severity in self.severities)
            parts.append(f"({either})" if len(self.severities) > 1 else either)
        if self.category:
            # ``:`` is SCC's substring match on strings.
            parts.append(f'category:"{self.category}"')
        if PROJECT_NUMBER.match(self.project):
            project_name = f"//cloudresourcemanager.googleapis.com/projects/{self.project}"
            parts.append(f'resource.project_name="{project_name}"')
        elif self.project:
            parts.append(f'resource.project_display_name="{self.project}"')
        if self.after is not None:
            parts.append(f'event_time >= "{self.after.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"')
        return " AND ".join(parts)

    def describe(self) -> str:
        """Return the query in the words a person typed it, for the page header."""
        words = [f"state={self.state}"]
        if self.severities:
            words.append("severity=" + ",".join(self.severities))
        if self.category:
            words.append(f"category={self.category}")
        if self.project:
            words.append(f"project={self.project}")
        if self.after is not None:
            words.append(f"since={self.after.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
        return " ".join(words)

    def next_page(self, token: str, *, shown: int) -> ListQuery:
        """Return the query for the page after one that showed ``shown`` findings."""
        return self.model_copy(update={"page_token": token, "offset": self.offset + shown})

    def encode(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_defaults=True)

    @classmethod
    def decode(cls, value: str | None) -> ListQuery:
        """Parse a "more" button value, or raise a UserFacingError."""
        try:
            return cls.model_validate_json(value or "")
        except ValidationError:
            raise UserFacingError("That list is from an older message; run it again.") from None


_LIST_KEYS = ("severity", "category", "project", "state", "since")


def parse_list_args(raw: str, *, now: datetime) -> ListQuery:
    """Parse ``key=value`` filters of the list command.

    Raises:
        LookupInputError: an unknown key, a repeated key or a value that does not fit.
    """
    try:
        tokens = shlex.split(clean_text(raw))
    except ValueError:
        raise LookupInputError(f"A quote is not closed. Try {LIST_EXAMPLE}.") from None
    values: dict[str, str] = {}
    last = ""
    for token in tokens:
        key, equals, value = token.partition("=")
        key = key.lower()
        if not equals:
            # A category may be typed with spaces and no quotes: ``category=Reverse Shell``.
            if last == "category":
                values["category"] += " " + token
                continue
            raise LookupInputError(f"{inline_code(token, 60)} is not a filter. Try {LIST_EXAMPLE}.")
        if key not in _LIST_KEYS:
            raise LookupInputError(
                f"{inline_code(key, 40)} is not a filter; use "
                + ", ".join(f"`{k}`" for k in _LIST_KEYS)
                + f". Try {LIST_EXAMPLE}."
            )
        if key in values:
            raise LookupInputError(f"`{key}` is given twice. Try {LIST_EXAMPLE}.")
        values[key] = clean_token(value)
        last = key
    try:
        fields = {
            "sv": _severities(values.get("severity", "")),
            "c": _category(values.get("category", "")),
            "p": _project(values.get("project", "")),
            "st": _state(values.get("state", "")),
            "a": _since(values.get("since", ""), now),
        }
    except LookupInputError as exc:
        raise LookupInputError(f"{exc.message} Try {LIST_EXAMPLE}.") from None
    return ListQuery.model_validate(fields)


def _severities(value: str) -> tuple[Severity, ...]:
    if not value:
        return ()
    chosen: list[Severity] = []
    for part in value.upper().split(","):
        if part not in SEVERITIES:
            raise LookupInputError(
                f"{inline_code(part, 30)} is not a severity; use CRITICAL, HIGH, MEDIUM or LOW."
            )
        if part not in chosen:
            chosen.append(Severity(part))
    return tuple(sorted(chosen, key=lambda s: -s.rank))


def _category(value: str) -> str:
    if value and not CATEGORY.match(value):
        raise LookupInputError(
            f"{inline_code(value, 60)} is not a category: letters, digits, spaces and :_-. only."
        )
    return value


def _project(value: str) -> str:
    if value and not (PROJECT_ID.match(value) or PROJECT_NUMBER.match(value)):
        raise LookupInputError(
            f"{inline_code(value, 40)} is not a project id (such as `acme-prod`) or number."
        )
    return value


def _state(value: str) -> str:
    if not value:
        return "ACTIVE"
    if value.upper() not in STATES:
        raise LookupInputError(f"{inline_code(value, 30)} is not a state; use ACTIVE or INACTIVE.")
    return value.upper()


def _since(value: str, now: datetime) -> datetime | None:
    if not value:
        return None
    match = SINCE.match(value.lower())
    if match is None:
        raise LookupInputError(
            f"{inline_code(value, 30)} is not a time span; use minutes, hours or days: "
            "`since=30m`, `since=24h`, `since=7d`."
        )
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match["unit"]]
    span = timedelta(**{unit: int(match["count"])})
    if span > MAX_SINCE:
        raise LookupInputError("`since` goes back at most 365 days.")
    return (now - span).replace(microsecond=0)
