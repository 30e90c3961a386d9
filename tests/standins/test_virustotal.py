"""The VirusTotal stand-in answers like the v3 API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from standins.virustotal import VirusTotalStandIn

SHA = "ab" * 32


@pytest.fixture
def vt_api() -> Iterator[VirusTotalStandIn]:
    with VirusTotalStandIn(api_key="k", per_minute=3) as standin:
        yield standin


def get(standin: VirusTotalStandIn, path: str, key: str | None = "k") -> requests.Response:
    headers = {"x-apikey": key} if key else {}
    return requests.get(standin.url + path, headers=headers, timeout=5)


def test_known_file(vt_api: VirusTotalStandIn) -> None:
    vt_api.add_file(SHA.upper(), stats={"malicious": 1}, names=["a"], last_analysis_date=5)
    response = get(vt_api, f"/api/v3/files/{SHA}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["type"], data["id"]) == ("file", SHA)
    assert data["attributes"]["last_analysis_stats"] == {"malicious": 1}
    assert data["attributes"]["last_analysis_date"] == 5
    assert "first_submission_date" not in data["attributes"]


def test_errors(vt_api: VirusTotalStandIn) -> None:
    missing = get(vt_api, f"/api/v3/files/{'cd' * 32}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NotFoundError"
    unauthorised = get(vt_api, f"/api/v3/files/{SHA}", key=None)
    assert unauthorised.status_code == 401
    assert unauthorised.json()["error"]["code"] == "WrongCredentialsError"
    assert get(vt_api, "/api/v3/files/not-a-hash").status_code == 400
    assert vt_api.requests[1].api_key is None


def test_quota(vt_api: VirusTotalStandIn) -> None:
    vt_api.exceed_quota()
    first = get(vt_api, f"/api/v3/files/{SHA}")
    assert first.status_code == 429
    assert first.json()["error"]["code"] == "QuotaExceededError"
    # per_minute=3: the queued error counted as a request, then three more, then 429.
    statuses = [get(vt_api, f"/api/v3/files/{SHA}").status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
