"""Validate Block Kit payloads the way Slack's Web API does.

Limits are those of the Block Kit reference (docs.slack.dev/reference/block-kit); each
error reads like Slack's own: ``"<problem> [json-pointer:/blocks/0/text/text]"``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

Surface = Literal["message", "modal", "home"]

# "You can include up to 50 blocks in each message, and 100 blocks in modals or Home tabs."
MAX_BLOCKS: dict[str, int] = {"message": 50, "modal": 100, "home": 100}
MAX_ID = 255  # block_id, action_id, callback_id, external_id

TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
PLAIN = frozenset({"plain_text"})

# Elements that collect a value and so only make sense inside an input block.
INPUT_ONLY = frozenset(
    {
        "plain_text_input",
        "email_text_input",
        "url_text_input",
        "number_input",
        "file_input",
        "rich_text_input",
    }
)
SELECTS = frozenset(
    {
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
    }
)
MULTI_SELECTS = frozenset(f"multi_{name}" for name in SELECTS)
INTERACTIVE = frozenset(
    {
        "button",
        "checkboxes",
        "datepicker",
        "datetimepicker",
        "overflow",
        "radio_buttons",
        "timepicker",
        "workflow_button",
    }
)
ELEMENT_TYPES = INPUT_ONLY | SELECTS | MULTI_SELECTS | INTERACTIVE | {"image"}
INPUT_ELEMENTS = (INPUT_ONLY | SELECTS | MULTI_SELECTS | INTERACTIVE) - {
    "button",
    "overflow",
    "workflow_button",
}

RICH_TEXT_CONTAINERS = frozenset(
    {"rich_text_section", "rich_text_list", "rich_text_preformatted", "rich_text_quote"}
)
# Inline rich text elements and the field each one needs.
RICH_TEXT_INLINE: dict[str, str] = {
    "text": "text",
    "link": "url",
    "emoji": "name",
    "user": "user_id",
    "channel": "channel_id",
    "usergroup": "usergroup_id",
    "team": "team_id",
    "broadcast": "range",
    "date": "timestamp",
    "color": "value",
}


def validate_blocks(
    blocks: Any, surface: Surface = "message", *, pointer: str = "/blocks"
) -> list[str]:
    """Return Slack-style error strings for a list of blocks (empty when valid)."""
    checker = _Checker(surface)
    checker.blocks(blocks, pointer)
    return checker.errors


def validate_view(view: Any, *, expected_type: str, pointer: str = "/view") -> list[str]:
    """Return Slack-style error strings for a modal or Home tab view object."""
    if not isinstance(view, dict):
        return [f"must provide an object [json-pointer:{pointer}]"]
    view_type = view.get("type")
    if view_type != expected_type:
        return [f"must be {expected_type} [json-pointer:{pointer}/type]"]
    checker = _Checker("modal" if view_type == "modal" else "home")
    if view_type == "modal":
        # Modal title, submit and close buttons: plain_text, at most 24 characters.
        checker.text(view, "title", pointer, max_len=24, kinds=PLAIN)
        checker.text(view, "close", pointer, max_len=24, kinds=PLAIN, required=False)
        checker.text(view, "submit", pointer, max_len=24, kinds=PLAIN, required=False)
        has_input = any(
            isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or []
        )
        if has_input and "submit" not in view:
            # "submit is required when an input block is within the blocks array."
            checker.fail(pointer, "missing required field: submit")
    checker.string(view, "private_metadata", pointer, max_len=3000)
    checker.string(view, "callback_id", pointer, max_len=MAX_ID)
    checker.string(view, "external_id", pointer, max_len=MAX_ID)
    if "blocks" not in view:
        checker.fail(pointer, "missing required field: blocks")
    else:
        checker.blocks(view["blocks"], f"{pointer}/blocks")
    return checker.errors


class _Checker:
    """Walk one message or view, collecting errors and the ids seen so far."""

    def __init__(self, surface: Surface) -> None:
        self.surface = surface
        self.errors: list[str] = []
        self._block_ids: set[str] = set()
        self._action_ids: set[str] = set()

    def fail(self, pointer: str, problem: str) -> None:
        self.errors.append(f"{problem} [json-pointer:{pointer}]")

    # -- primitives -------------------------------------------------------------------------

    def string(
        self,
        obj: dict[str, Any],
        key: str,
        pointer: str,
        *,
        max_len: int,
        required: bool = False,
        min_len: int = 0,
    ) -> str | None:
        path = f"{pointer}/{key}"
        if key not in obj:
            if required:
                self.fail(pointer, f"missing required field: {key}")
            return None
        value = obj[key]
        if not isinstance(value, str):
            self.fail(path, "must provide a string")
            return None
        if len(value) > max_len:
            self.fail(path, f"must be less than {max_len + 1} characters")
        if len(value) < min_len:
            self.fail(path, f"must be more than {min_len - 1} characters")
        return value

    def items(
        self, obj: dict[str, Any], key: str, pointer: str, *, max_items: int, min_items: int = 1
    ) -> list[Any]:
        if key not in obj:
            self.fail(pointer, f"missing required field: {key}")
            return []
        value = obj[key]
        if not isinstance(value, list):
            self.fail(f"{pointer}/{key}", "must provide an array")
            return []
        if len(value) > max_items:
            self.fail(f"{pointer}/{key}", f"no more than {max_items} items allowed")
        if len(value) < min_items:
            self.fail(f"{pointer}/{key}", f"must provide at least {min_items} items")
        return value

    def text(
        self,
        obj: dict[str, Any],
        key: str,
        pointer: str,
        *,
        max_len: int,
        kinds: frozenset[str] = TEXT_TYPES,
        required: bool = True,
    ) -> None:
        if key not in obj:
            if required:
                self.fail(pointer, f"missing required field: {key}")
            return
        self.text_object(obj[key], f"{pointer}/{key}", max_len=max_len, kinds=kinds)

    def text_object(
        self, value: Any, pointer: str, *, max_len: int, kinds: frozenset[str] = TEXT_TYPES
    ) -> None:
        if not isinstance(value, dict):
            self.fail(pointer, "must provide an object")
            return
        kind = value.get("type")
        if kind is None:
            self.fail(pointer, "missing required field: type")
        elif kind not in kinds:
            self.fail(f"{pointer}/type", f"must be one of [{', '.join(sorted(kinds))}]")
        # Text objects need at least one character.
        self.string(value, "text", pointer, max_len=max_len, required=True, min_len=1)

    def unique_id(self, obj: dict[str, Any], key: str, pointer: str, seen: set[str]) -> None:
        value = self.string(obj, key, pointer, max_len=MAX_ID, min_len=1)
        if value is None:
            return
        if value in seen:
            self.fail(f"{pointer}/{key}", f"{key} must be unique: {value}")
        seen.add(value)

    def style(self, obj: dict[str, Any], pointer: str) -> None:
        if "style" in obj and obj["style"] not in ("primary", "danger"):
            self.fail(f"{pointer}/style", "must be one of [primary, danger]")

    # -- blocks -----------------------------------------------------------------------------

    def blocks(self, blocks: Any, pointer: str) -> None:
        if not isinstance(blocks, list):
            self.fail(pointer, "must provide an array")
            return
        limit = MAX_BLOCKS[self.surface]
        if len(blocks) > limit:
            self.fail(pointer, f"no more than {limit} items allowed")
        for index, block in enumerate(blocks):
            self.block(block, f"{pointer}/{index}")

    def block(self, block: Any, pointer: str) -> None:
        if not isinstance(block, dict):
            self.fail(pointer, "must provide an object")
            return
        # block_id: at most 255 characters, unique within the message or view.
        self.unique_id(block, "block_id", pointer, self._block_ids)
        kind = block.get("type")
        check = _BLOCK_CHECKS.get(kind) if isinstance(kind, str) else None
        if check is None:
            self.fail(f"{pointer}/type", f"unsupported block type: {kind}")
            return
        check(self, block, pointer)

    def section(self, block: dict[str, Any], pointer: str) -> None:
        if "text" not in block and "fields" not in block:
            self.fail(pointer, "must define either `text` or `fields`")
        # Section text: at most 3000 characters; fields: at most 10, each at most 2000.
        self.text(block, "text", pointer, max_len=3000, required=False)
        if "fields" in block:
            for index, field in enumerate(self.items(block, "fields", pointer, max_items=10)):
                self.text_object(field, f"{pointer}/fields/{index}", max_len=2000)
        if "accessory" in block:
            accessory = block["accessory"]
            path = f"{pointer}/accessory"
            if isinstance(accessory, dict) and accessory.get("type") in INPUT_ONLY:
                self.fail(f"{path}/type", "element not supported in a section block")
            self.element(accessory, path)

    def header(self, block: dict[str, Any], pointer: str) -> None:
        self.text(block, "text", pointer, max_len=150, kinds=PLAIN)

    def divider(self, block: dict[str, Any], pointer: str) -> None:
        return

    def image_block(self, block: dict[str, Any], pointer: str) -> None:
        self.image(block, pointer)
        self.text(block, "title", pointer, max_len=2000, kinds=PLAIN, required=False)

    def context(self, block: dict[str, Any], pointer: str) -> None:
        # Context: at most 10 elements, each an image element or a text object.
        for index, element in enumerate(self.items(block, "elements", pointer, max_items=10)):
            path = f"{pointer}/elements/{index}"
            if isinstance(element, dict) and element.get("type") == "image":
                self.image(element, path)
            else:
                self.text_object(element, path, max_len=3000)

    def actions(self, block: dict[str, Any], pointer: str) -> None:
        # Actions: at most 25 interactive elements.
        for index, element in enumerate(self.items(block, "elements", pointer, max_items=25)):
            path = f"{pointer}/elements/{index}"
            if isinstance(element, dict) and element.get("type") in INPUT_ONLY | {"image"}:
                self.fail(f"{path}/type", "element not supported in an actions block")
            self.element(element, path)

    def input(self, block: dict[str, Any], pointer: str) -> None:
        if self.surface == "message":
            # Input blocks are for modals and Home tabs; messages refuse them.
            self.fail(f"{pointer}/type", "input blocks are not supported in messages")
        self.text(block, "label", pointer, max_len=2000, kinds=PLAIN)
        self.text(block, "hint", pointer, max_len=2000, kinds=PLAIN, required=False)
        if "element" not in block:
            self.fail(pointer, "missing required field: element")
            return
        element = block["element"]
        path = f"{pointer}/element"
        if isinstance(element, dict) and element.get("type") not in INPUT_ELEMENTS:
            self.fail(f"{path}/type", "element not supported in an input block")
        self.element(element, path)

    def rich_text(self, block: dict[str, Any], pointer: str) -> None:
        for index, part in enumerate(self.items(block, "elements", pointer, max_items=100)):
            self.rich_text_container(part, f"{pointer}/elements/{index}")

    def rich_text_container(self, part: Any, pointer: str) -> None:
        if not isinstance(part, dict) or part.get("type") not in RICH_TEXT_CONTAINERS:
            self.fail(pointer, f"must be one of [{', '.join(sorted(RICH_TEXT_CONTAINERS))}]")
            return
        children = self.items(part, "elements", pointer, max_items=1000, min_items=0)
        for index, child in enumerate(children):
            path = f"{pointer}/elements/{index}"
            if part["type"] == "rich_text_list":
                if part.get("style") not in ("bullet", "ordered"):
                    self.fail(f"{pointer}/style", "must be one of [bullet, ordered]")
                if not isinstance(child, dict) or child.get("type") != "rich_text_section":
                    self.fail(path, "must be rich_text_section")
                else:
                    self.rich_text_container(child, path)
            else:
                self.rich_text_inline(child, path)

    def rich_text_inline(self, child: Any, pointer: str) -> None:
        kind = child.get("type") if isinstance(child, dict) else None
        needed = RICH_TEXT_INLINE.get(kind) if isinstance(kind, str) else None
        if needed is None or not isinstance(child, dict):
            self.fail(pointer, f"unsupported rich text element: {kind}")
        elif needed not in child:
            self.fail(pointer, f"missing required field: {needed}")

    def markdown(self, block: dict[str, Any], pointer: str) -> None:
        # The markdown block takes up to 12,000 characters of standard markdown.
        self.string(block, "text", pointer, max_len=12000, required=True, min_len=1)

    # -- elements ---------------------------------------------------------------------------

    def element(self, element: Any, pointer: str) -> None:
        if not isinstance(element, dict):
            self.fail(pointer, "must provide an object")
            return
        kind = element.get("type")
        if kind not in ELEMENT_TYPES:
            self.fail(f"{pointer}/type", f"unsupported element type: {kind}")
            return
        if kind == "image":
            self.image(element, pointer)
            return
        # action_id: at most 255 characters; kept unique across the whole surface.
        self.unique_id(element, "action_id", pointer, self._action_ids)
        self.text(element, "placeholder", pointer, max_len=150, kinds=PLAIN, required=False)
        if "confirm" in element:
            self.confirm(element["confirm"], f"{pointer}/confirm")
        if kind == "button":
            self.button(element, pointer)
        elif kind in ("static_select", "multi_static_select"):
            self.static_select(element, pointer)
        elif kind == "overflow":
            # Overflow menus hold up to 5 options, which may carry a url.
            for index, option in enumerate(self.items(element, "options", pointer, max_items=5)):
                self.option(option, f"{pointer}/options/{index}", kinds=PLAIN, with_url=True)
        elif kind in ("checkboxes", "radio_buttons"):
            # Checkboxes and radio buttons: at most 10 options, text may be mrkdwn.
            for index, option in enumerate(self.items(element, "options", pointer, max_items=10)):
                self.option(option, f"{pointer}/options/{index}", kinds=TEXT_TYPES)
        elif kind == "plain_text_input":
            self.text_input(element, pointer)
        elif kind == "datepicker":
            self.pattern(element, "initial_date", pointer, r"\d{4}-\d{2}-\d{2}", "YYYY-MM-DD")
        elif kind == "timepicker":
            self.pattern(element, "initial_time", pointer, r"\d{2}:\d{2}", "HH:mm")

    def button(self, element: dict[str, Any], pointer: str) -> None:
        # Button text: plain_text, at most 75 characters; value 2000; url 3000.
        self.text(element, "text", pointer, max_len=75, kinds=PLAIN)
        self.string(element, "value", pointer, max_len=2000)
        self.string(element, "url", pointer, max_len=3000)
        self.string(element, "accessibility_label", pointer, max_len=75)
        self.style(element, pointer)

    def static_select(self, element: dict[str, Any], pointer: str) -> None:
        if ("options" in element) == ("option_groups" in element):
            self.fail(pointer, "must provide exactly one of `options` or `option_groups`")
            return
        # Static menus: at most 100 options or 100 option groups.
        if "options" in element:
            for index, option in enumerate(self.items(element, "options", pointer, max_items=100)):
                self.option(option, f"{pointer}/options/{index}", kinds=PLAIN)
            return
        groups = self.items(element, "option_groups", pointer, max_items=100)
        for group_index, group in enumerate(groups):
            path = f"{pointer}/option_groups/{group_index}"
            if not isinstance(group, dict):
                self.fail(path, "must provide an object")
                continue
            self.text(group, "label", path, max_len=75, kinds=PLAIN)
            for index, option in enumerate(self.items(group, "options", path, max_items=100)):
                self.option(option, f"{path}/options/{index}", kinds=PLAIN)

    def option(
        self, option: Any, pointer: str, *, kinds: frozenset[str], with_url: bool = False
    ) -> None:
        if not isinstance(option, dict):
            self.fail(pointer, "must provide an object")
            return
        # Option text and description: at most 75 characters; value at most 150.
        self.text(option, "text", pointer, max_len=75, kinds=kinds)
        self.text(option, "description", pointer, max_len=75, kinds=kinds, required=False)
        self.string(option, "value", pointer, max_len=150, required=True, min_len=1)
        if with_url:
            self.string(option, "url", pointer, max_len=3000)
        elif "url" in option:
            self.fail(f"{pointer}/url", "url is only allowed in overflow menus")

    def text_input(self, element: dict[str, Any], pointer: str) -> None:
        # min_length and max_length run from 0 and 1 up to 3000.
        for key, low in (("min_length", 0), ("max_length", 1)):
            value = element.get(key)
            if value is not None and (not isinstance(value, int) or not low <= value <= 3000):
                self.fail(f"{pointer}/{key}", f"must be between {low} and 3000")

    def pattern(
        self, element: dict[str, Any], key: str, pointer: str, regex: str, shape: str
    ) -> None:
        value = element.get(key)
        if value is not None and not (isinstance(value, str) and re.fullmatch(regex, value)):
            self.fail(f"{pointer}/{key}", f"must be in the format {shape}")

    def confirm(self, confirm: Any, pointer: str) -> None:
        if not isinstance(confirm, dict):
            self.fail(pointer, "must provide an object")
            return
        # Confirm dialog: title 100, text 300, confirm and deny buttons 30 characters.
        self.text(confirm, "title", pointer, max_len=100, kinds=PLAIN)
        self.text(confirm, "text", pointer, max_len=300)
        self.text(confirm, "confirm", pointer, max_len=30, kinds=PLAIN)
        self.text(confirm, "deny", pointer, max_len=30, kinds=PLAIN)
        self.style(confirm, pointer)

    def image(self, image: dict[str, Any], pointer: str) -> None:
        # Images need image_url (at most 3000) or slack_file, and alt_text (at most 2000).
        if "image_url" not in image and "slack_file" not in image:
            self.fail(pointer, "must provide either `image_url` or `slack_file`")
        self.string(image, "image_url", pointer, max_len=3000, min_len=1)
        self.string(image, "alt_text", pointer, max_len=2000, required=True, min_len=1)


_BLOCK_CHECKS = {
    "section": _Checker.section,
    "header": _Checker.header,
    "divider": _Checker.divider,
    "image": _Checker.image_block,
    "context": _Checker.context,
    "actions": _Checker.actions,
    "input": _Checker.input,
    "rich_text": _Checker.rich_text,
    "markdown": _Checker.markdown,
}
