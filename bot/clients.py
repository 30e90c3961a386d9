"""The one place Google Cloud clients are made, once per process.

With ``*_EMULATOR_HOST`` set, a client talks plaintext gRPC to that host:port with no
credentials (stand-ins, private test endpoints); otherwise it uses Application Default
Credentials against Google's endpoints. A client handed a transport instance refuses
credentials, so stand-in transports are built on an insecure channel here.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any, TypeVar

import grpc
from google.cloud import pubsub_v1, run_v2  # type: ignore[attr-defined]
from google.cloud import securitycenter_v2 as scc
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.services.logging_service_v2.transports import (
    LoggingServiceV2GrpcTransport,
)
from google.cloud.run_v2.services.executions.transports import ExecutionsGrpcTransport
from google.cloud.run_v2.services.jobs.transports import JobsGrpcTransport
from google.cloud.run_v2.services.revisions.transports import RevisionsGrpcTransport
from google.cloud.run_v2.services.services.transports import ServicesGrpcTransport
from google.cloud.secretmanager_v1 import SecretManagerServiceClient
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)
from google.cloud.securitycenter_v2.services.security_center.transports import (
    SecurityCenterGrpcTransport,
)
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

from bot.config import Settings
from bot.investigate.virustotal import VirusTotalClient

logger = logging.getLogger(__name__)

T = TypeVar("T")


class GoogleClients:
    """Lazily built, shared Google Cloud API clients."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._made: dict[str, Any] = {}
        self._channels: dict[str, grpc.Channel] = {}

    @property
    def scc(self) -> scc.SecurityCenterClient:
        return self._client(
            "scc",
            scc.SecurityCenterClient,
            SecurityCenterGrpcTransport,
            self._settings.scc_emulator_host,
        )

    @property
    def services(self) -> run_v2.ServicesClient:
        return self._client(
            "services",
            run_v2.ServicesClient,
            ServicesGrpcTransport,
            self._settings.run_emulator_host,
        )

    @property
    def revisions(self) -> run_v2.RevisionsClient:
        return self._client(
            "revisions",
            run_v2.RevisionsClient,
            RevisionsGrpcTransport,
            self._settings.run_emulator_host,
        )

    @property
    def jobs(self) -> run_v2.JobsClient:
        return self._client(
            "jobs", run_v2.JobsClient, JobsGrpcTransport, self._settings.run_emulator_host
        )

    @property
    def executions(self) -> run_v2.ExecutionsClient:
        return self._client(
            "executions",
            run_v2.ExecutionsClient,
            ExecutionsGrpcTransport,
            self._settings.run_emulator_host,
        )

    @property
    def logging(self) -> LoggingServiceV2Client:
        return self._client(
            "logging",
            LoggingServiceV2Client,
            LoggingServiceV2GrpcTransport,
            self._settings.logging_emulator_host,
        )

    @property
    def subscriber(self) -> pubsub_v1.SubscriberClient:
        return self._client(
            "subscriber",
            pubsub_v1.SubscriberClient,
            SubscriberGrpcTransport,
            self._settings.pubsub_emulator_host,
        )

    @property
    def virustotal(self) -> VirusTotalClient | None:
        """Return the VirusTotal client, or None when VT_API_KEY is not set."""
        key = self._settings.vt_api_key
        if key is None:
            return None
        with self._lock:
            if "virustotal" not in self._made:
                self._made["virustotal"] = VirusTotalClient(
                    key.get_secret_value(),
                    host=self._settings.vt_api_url,
                    per_minute=self._settings.vt_lookups_per_minute,
                )
            client: VirusTotalClient = self._made["virustotal"]
            return client

    def _client(
        self, key: str, client_type: type[T], transport_type: Any, emulator: str | None
    ) -> T:
        with self._lock:
            if key not in self._made:
                if emulator:
                    channel = self._channel(emulator)
                    # The GAPIC clients take a transport factory (they always pass
                    # credentials); Pub/Sub's wrapper takes only a transport instance.
                    transport = (
                        transport_type(channel=channel)
                        if key == "subscriber"
                        else functools.partial(transport_type, channel=channel)
                    )
                    self._made[key] = client_type(transport=transport)  # type: ignore[call-arg]
                    logger.info(
                        "%s client uses the endpoint at %s without credentials", key, emulator
                    )
                else:
                    self._made[key] = client_type()
            return self._made[key]

    def _channel(self, address: str) -> grpc.Channel:
        if address not in self._channels:
            self._channels[address] = grpc.insecure_channel(address)
        return self._channels[address]

    def close(self) -> None:
        """Close the plaintext channels opened for emulator hosts and the VirusTotal session."""
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
            virustotal = self._made.get("virustotal")
            self._made.clear()
        if virustotal is not None:
            virustotal.close()


def make_secret_manager_client(emulator: str | None = None) -> SecretManagerServiceClient:
    """Return a Secret Manager client; used before the settings exist, so not cached here."""
    if not emulator:
        return SecretManagerServiceClient()
    channel = grpc.insecure_channel(emulator)
    logger.info("secret manager client uses the endpoint at %s without credentials", emulator)
    return SecretManagerServiceClient(
        transport=functools.partial(SecretManagerServiceGrpcTransport, channel=channel)
    )
