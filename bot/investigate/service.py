"""Run each investigation lookup at most once per finding within the cache's lifetime."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from bot.clients import GoogleClients
from bot.config import Settings
from bot.errors import UserFacingError
from bot.finding import FindingRecord
from bot.investigate.answers import AnswerCache
from bot.investigate.container import JobSettings, ServiceSettings, describe_container
from bot.investigate.logs import LogsResult, fetch_logs
from bot.investigate.related import RelatedFindings, find_related
from bot.investigate.virustotal import VirusTotalReport, lookup_script
from bot.store import FindingStore

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Investigator:
    """The lookups behind the investigation buttons, with recent answers reused."""

    def __init__(
        self,
        google: GoogleClients,
        settings: Settings,
        store: FindingStore,
        *,
        permalink: Callable[[str, str], str],
        cache: AnswerCache | None = None,
    ) -> None:
        self.google = google
        self.settings = settings
        self.store = store
        self.permalink = permalink
        self.cache = cache or AnswerCache(settings.investigation_cache_seconds)

    def related(self, record: FindingRecord) -> tuple[RelatedFindings, bool]:
        """Return related findings and the same script elsewhere, and whether reused."""
        return self._cached(
            record,
            "related",
            lambda: find_related(
                self.google, self.settings, record, store=self.store, permalink=self.permalink
            ),
        )

    def container(self, record: FindingRecord) -> tuple[ServiceSettings | JobSettings, bool]:
        """Return the Cloud Run settings of the finding's resource, and whether reused."""
        return self._cached(
            record, "container", lambda: describe_container(self.google, self.settings, record)
        )

    def logs(self, record: FindingRecord) -> tuple[LogsResult, bool]:
        """Return one page of logs around the event time, and whether reused."""
        return self._cached(record, "logs", lambda: fetch_logs(self.google, self.settings, record))

    def virustotal(self, record: FindingRecord) -> tuple[VirusTotalReport, bool]:
        """Return VirusTotal's verdict on the script hash, and whether reused."""
        client = self.google.virustotal
        if client is None:
            raise UserFacingError(":information_source: VirusTotal lookups need VT_API_KEY.")
        return self._cached(record, "virustotal", lambda: lookup_script(client, record))

    def _cached(
        self, record: FindingRecord, button: str, compute: Callable[[], T]
    ) -> tuple[T, bool]:
        answer, reused = self.cache.get_or_compute(record.key, button, compute)
        logger.info(
            "investigation %s for %s: %s", button, record.key, "reused" if reused else "looked up"
        )
        return answer, reused
