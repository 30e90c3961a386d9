"""Turn Google Cloud API failures into messages a responder can act on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from google.api_core import exceptions as gexc

from blocks.text import escape
from bot.errors import PermissionMissing, UserFacingError

logger = logging.getLogger(__name__)


class Api(StrEnum):
    """A Google Cloud API the investigation reads, valued by the role that lets it read."""

    SCC = "roles/securitycenter.findingsViewer"
    RUN = "roles/run.viewer"
    LOGGING = "roles/logging.viewer"

    @property
    def label(self) -> str:
        return {Api.SCC: "Security Command Center", Api.RUN: "Cloud Run", Api.LOGGING: "Logging"}[
            self
        ]


@contextmanager
def google_errors(api: Api, what: str) -> Iterator[None]:
    """Raise a UserFacingError for a failed call; ``what`` completes "The bot may not …".

    Args:
        api: which API the calls inside go to (decides the role named on PERMISSION_DENIED).
        what: bot-written words such as ``read service payments-api``; escaped here.
    """
    try:
        yield
    except gexc.PermissionDenied as exc:
        logger.warning("%s refused %s: %s", api.label, what, exc.message)
        raise PermissionMissing(escape(what), api.value) from None
    except gexc.NotFound as exc:
        logger.info("%s: not found while trying to %s: %s", api.label, what, exc.message)
        raise UserFacingError(
            f":mag: {api.label} found nothing to {escape(what)}: it may have been deleted."
        ) from None
    except (gexc.ResourceExhausted, gexc.TooManyRequests) as exc:
        logger.warning("%s quota exhausted (%s): %s", api.label, what, exc.message)
        raise UserFacingError(
            f":hourglass: {api.label} quota is used up for now; try again in a minute."
        ) from None
    except gexc.Unauthenticated as exc:
        logger.error("%s rejected the bot's credentials: %s", api.label, exc.message)
        raise UserFacingError(
            f":no_entry: {api.label} did not accept the bot's credentials; "
            "check its service account."
        ) from None
    except gexc.InvalidArgument as exc:
        logger.error("%s rejected the request to %s: %s", api.label, what, exc.message)
        raise UserFacingError(
            f":warning: {api.label} rejected the request to {escape(what)}."
        ) from None
    except (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.RetryError) as exc:
        logger.warning("%s unavailable (%s): %s", api.label, what, exc)
        raise UserFacingError(
            f":hourglass: {api.label} did not answer in time; try again shortly."
        ) from None
    except gexc.GoogleAPICallError as exc:
        logger.error("%s failed to %s: %s %s", api.label, what, exc.code, exc.message)
        raise UserFacingError(
            f":warning: {api.label} failed to {escape(what)} ({escape(str(exc.code))})."
        ) from None
