"""Make untrusted text inert in Slack, and cut it to Slack's limits without breaking it.

Every string that comes from a finding goes through :func:`escape` before it reaches a
mrkdwn field, and through :func:`plain` before a plain_text field. Slack gives control
sequences meaning only inside ``<…>`` and through ``&``-entities, so escaping ``&``, ``<``
and ``>`` removes mentions (``<!channel>``, ``<@U…>``), channel links and ``<url|label>``
links. Backticks become a look-alike so that finding text can neither open nor close a
code span, and characters that are invisible or reorder text (zero-width, bidi controls)
are shown as their code points, so a reader sees what is really there.

Limits are measured on the escaped text, and cuts fall between whole escaped characters,
so an entity such as ``&amp;`` or a combining sequence is never split.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

ELLIPSIS = "…"
# U+02CB MODIFIER LETTER GRAVE ACCENT: looks like a backtick, means nothing to mrkdwn.
BACKTICK_STAND_IN = "ˋ"

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Zero-width, joiners, bidi embeddings/overrides/isolates, word joiner, BOM, soft hyphen,
# and the other invisible formatting characters attackers use to disguise text.
_INVISIBLE = frozenset(
    [
        *(0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0),
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2070),
        *range(0xFFF0, 0xFFFC),
    ]
)
_URL_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{1,15}):(//)")
# host.tld that Slack would turn into a link by itself
_BARE_DOMAIN = re.compile(r"\b((?:[\w\-]{1,63}\.)+[^\W\d_]{2,24})\b")


def _escape_char(char: str, *, code: bool) -> str:
    if char in _ENTITIES:
        return _ENTITIES[char]
    if char == "`":
        return BACKTICK_STAND_IN
    point = ord(char)
    if point in _INVISIBLE or unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn"):
        if code and char in "\n\t":
            return char
        if not code and char == "\n":
            return char
        return f"⟦U+{point:04X}⟧"
    return char


def _escaped_units(text: str, *, code: bool) -> Iterator[str]:
    """Yield the escaped form of each user-perceived character of ``text``."""
    unit = ""
    for char in text:
        piece = _escape_char(char, code=code)
        # Keep combining marks and variation selectors with their base character.
        if unit and _joins_previous(char):
            unit += piece
            continue
        if unit:
            yield unit
        unit = piece
    if unit:
        yield unit


def _joins_previous(char: str) -> bool:
    return unicodedata.combining(char) != 0 or 0xFE00 <= ord(char) <= 0xFE0F


# Most finding text is plain ASCII: escape it with one translate call.
_ASCII_TABLE = {ord(c): e for c, e in _ENTITIES.items()} | {ord("`"): BACKTICK_STAND_IN}
_ASCII_TABLE |= {p: f"⟦U+{p:04X}⟧" for p in [*range(0x20), 0x7F] if p != 0x0A}
_ASCII_CODE_TABLE = {p: v for p, v in _ASCII_TABLE.items() if p != 0x09}


def escape(text: str, *, code: bool = False) -> str:
    """Return ``text`` safe to place in mrkdwn.

    Args:
        text: untrusted text.
        code: the text goes inside a code block, where tabs and newlines stay as they are.
    """
    if text.isascii():
        return text.translate(_ASCII_CODE_TABLE if code else _ASCII_TABLE)
    return "".join(_escaped_units(text, code=code))


def defang(text: str) -> str:
    """Break URLs and domain names so Slack does not turn them into links."""
    text = _URL_SCHEME.sub(lambda m: _defang_scheme(m.group(1)) + "[:]" + m.group(2), text)
    return _BARE_DOMAIN.sub(lambda m: m.group(1).replace(".", "[.]"), text)


def _defang_scheme(scheme: str) -> str:
    return re.sub("[tT]", lambda m: "x" if m.group() == "t" else "X", scheme, count=2)


def fit(text: str, limit: int, *, code: bool = False, marker: str = ELLIPSIS) -> tuple[str, bool]:
    """Escape ``text`` and cut it to ``limit`` characters; return it and whether it was cut."""
    if limit <= len(marker):
        raise ValueError("limit must leave room for the marker")
    if len(text) <= limit:
        whole = escape(text, code=code)
        if len(whole) <= limit:
            return whole, False
    pieces: list[str] = []
    used = 0
    units = _escaped_units(text, code=code)
    for unit in units:
        if used + len(unit) > limit:
            break
        pieces.append(unit)
        used += len(unit)
    else:
        return "".join(pieces), False
    # Make room for the marker by dropping whole units from the end.
    while pieces and used + len(marker) > limit:
        used -= len(pieces.pop())
    return "".join(pieces) + marker, True


def escaped_length(text: str, *, code: bool = False) -> int:
    """Return how long ``text`` is once escaped."""
    return sum(len(unit) for unit in _escaped_units(text, code=code))


def inline_code(text: str, limit: int = 300) -> str:
    """Return untrusted text as an inline code span, on one line, at most ``limit`` long."""
    one_line = text.replace("\r\n", "\n").replace("\n", "⏎")
    body, _ = fit(one_line, limit - 2)
    return f"`{body}`" if body else "`(empty)`"


def text(value: str, limit: int = 500) -> str:
    """Return untrusted prose for mrkdwn: escaped, defanged, cut to ``limit``."""
    body, _ = fit(defang(value), limit)
    return body


def plain(value: str, limit: int) -> str:
    """Return untrusted text for a plain_text field: one line, invisible characters shown, cut.

    plain_text is shown literally by Slack (no entities, mentions or links), so only what a
    reader cannot see needs changing.
    """
    units: list[str] = []
    for char in value.replace("\r\n", " ").replace("\n", " "):
        shown = _escape_char(char, code=False) if char not in _ENTITIES and char != "`" else char
        if units and _joins_previous(char):
            units[-1] += shown
        else:
            units.append(shown)
    if sum(len(unit) for unit in units) <= limit:
        return "".join(units)
    used = 0
    kept: list[str] = []
    for unit in units:
        if used + len(unit) > limit - len(ELLIPSIS):
            break
        kept.append(unit)
        used += len(unit)
    return "".join(kept) + ELLIPSIS
