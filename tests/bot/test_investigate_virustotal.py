"""VirusTotal lookups through vt-py against the VirusTotal stand-in."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.errors import UserFacingError
from bot.finding import parse_notification
from bot.investigate.virustotal import VirusTotalClient, lookup_script
from standins.virustotal import VirusTotalStandIn
from tests.conftest import sample_bytes

KEY = "vt-test-key"
SHA = "fb25b756caf04c3aea513077939e50ea1072b2e6ca2c7858e970ad896606d423"


@pytest.fixture
def vt_api() -> Iterator[VirusTotalStandIn]:
    with VirusTotalStandIn(api_key=KEY) as standin:
        yield standin


@pytest.fixture
def client(vt_api: VirusTotalStandIn) -> Iterator[VirusTotalClient]:
    made = VirusTotalClient(KEY, host=vt_api.url, per_minute=4)
    yield made
    made.close()


def test_report_of_a_known_file(vt_api: VirusTotalStandIn, client: VirusTotalClient) -> None:
    vt_api.add_file(
        SHA,
        stats={"malicious": 5, "undetected": 58, "harmless": 1},
        names=["update.py"],
        first_submission_date=1778580000,
    )
    record = parse_notification(sample_bytes("malicious_python_v2.json"))
    report = lookup_script(client, record)
    assert report.known and report.malicious == 5
    assert report.stats == (("malicious", 5), ("undetected", 58), ("harmless", 1))
    assert report.names == ("update.py",)
    assert report.first_seen == datetime.fromtimestamp(1778580000, tz=UTC)
    assert report.last_analysis is None
    assert [(r.path, r.api_key) for r in vt_api.file_requests()] == [(f"/api/v3/files/{SHA}", KEY)]


def test_lookups_from_several_threads_share_one_client(
    vt_api: VirusTotalStandIn, client: VirusTotalClient
) -> None:
    answers: list[object] = []
    threads = [
        threading.Thread(target=lambda: answers.append(client.file_attributes(SHA)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert answers == [None, None, None]


def test_partial_hash_is_flagged(client: VirusTotalClient) -> None:
    document = json.loads(sample_bytes("malicious_python_v2.json"))
    document["finding"]["processes"][0]["script"]["partiallyHashed"] = True
    report = lookup_script(client, parse_notification(json.dumps(document)))
    assert not report.known and report.partial


def test_client_side_rate_limit(vt_api: VirusTotalStandIn) -> None:
    limited = VirusTotalClient(KEY, host=vt_api.url, per_minute=1)
    try:
        assert limited.file_attributes(SHA) is None
        with pytest.raises(UserFacingError, match="1 lookups a minute"):
            limited.file_attributes("0" * 64)
    finally:
        limited.close()
    assert len(vt_api.file_requests()) == 1


def test_quota_and_wrong_key(vt_api: VirusTotalStandIn, client: VirusTotalClient) -> None:
    vt_api.exceed_quota()
    with pytest.raises(UserFacingError, match="quota is used up"):
        client.file_attributes(SHA)
    wrong = VirusTotalClient("nope", host=vt_api.url)
    try:
        with pytest.raises(UserFacingError, match="VT_API_KEY"):
            wrong.file_attributes(SHA)
    finally:
        wrong.close()


def test_unreachable_service_is_a_clear_error() -> None:
    standin = VirusTotalStandIn(api_key=KEY)
    url = standin.url
    standin._server.server_close()  # nothing listens there any more
    client = VirusTotalClient(KEY, host=url, timeout=5)
    try:
        with pytest.raises(UserFacingError, match="could not be reached"):
            client.file_attributes(SHA)
    finally:
        client.close()
