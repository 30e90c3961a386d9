"""Small typed references carried in button values, parsed in one place.

A button never carries the finding itself: only its name (and, for containment, the
request id). Values come back from Slack inside a signed request, but they are still
checked: a value that does not parse is refused, and nothing in it decides who may act.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import UserFacingError

# Slack's limit for a button value.
MAX_VALUE = 2000


class FindingRef(BaseModel):
    """Which finding a button acts on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    finding: str = Field(alias="f", min_length=1, max_length=512, pattern=r"^[A-Za-z0-9/_\-]+$")

    def encode(self) -> str:
        value = self.model_dump_json(by_alias=True)
        if len(value) > MAX_VALUE:
            raise ValueError("button value over Slack's limit")
        return value

    @classmethod
    def decode(cls, value: str | None) -> FindingRef:
        """Parse a button value, or raise a UserFacingError."""
        try:
            return cls.model_validate_json(value or "")
        except ValidationError:
            raise UserFacingError(
                "That button is from an older message; use a newer one."
            ) from None


def finding_ref(key: str) -> str:
    """Return the button value for a finding."""
    return FindingRef.model_validate({"f": key}).encode()
