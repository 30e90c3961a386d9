from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from bot.errors import PermissionMissing, UserFacingError
from bot.finding_query import (
    FindingQuery,
    ListQuery,
    LookupInputError,
    clean_token,
    name_from_console_url,
    parse_finding_query,
    parse_list_args,
)
from bot.lookup import (
    check_in_scope,
    fetch_finding,
    list_findings,
    name_candidates,
    name_filter,
    resolve_finding_id,
    source_parent,
)
from bot.pipeline import Delivery
from bot.severity import Severity
from tests.conftest import sample_bytes

ORG = "organizations/123456789012"
SOURCE = "11223344556677889900"
FID = "23eeeb4347bdd26bfc6b7ee9a3b755dd"
V2 = f"{ORG}/sources/{SOURCE}/locations/global/findings/{FID}"
V1 = f"{ORG}/sources/{SOURCE}/findings/{FID}"
CANONICAL = f"projects/987654321098/sources/{SOURCE}/locations/global/findings/{FID}"
ENCODED_V2 = V2.replace("/", "%2F")
NOW = datetime(2026, 5, 13, 12, 0, 30, tzinfo=UTC)


# -- accepted finding forms ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        pytest.param(V2, FindingQuery(name=V2), id="v2-name"),
        pytest.param(V1, FindingQuery(name=V2), id="v1-name-maps-to-global"),
        pytest.param(CANONICAL, FindingQuery(name=CANONICAL), id="canonical-project-name"),
        pytest.param(
            f"projects/acme-prod/sources/{SOURCE}/locations/us/findings/abc123",
            FindingQuery(name=f"projects/acme-prod/sources/{SOURCE}/locations/us/findings/abc123"),
            id="project-id-and-regional-location",
        ),
        pytest.param(
            f"folders/42/sources/{SOURCE}/findings/{FID}",
            FindingQuery(name=f"folders/42/sources/{SOURCE}/locations/global/findings/{FID}"),
            id="folder-v1-name",
        ),
        pytest.param(FID, FindingQuery(finding_id=FID), id="bare-id"),
        pytest.param(
            "https://console.cloud.google.com/security/command-center/findingsv2"
            f";name={ENCODED_V2}?organizationId=123456789012",
            FindingQuery(name=V2),
            id="console-v2-url",
        ),
        pytest.param(
            "https://console.cloud.google.com/security/command-center/findingsv2"
            f";name={ENCODED_V2};other=1?organizationId=123456789012&supportedpurview=project",
            FindingQuery(name=V2),
            id="console-v2-url-with-more-parameters",
        ),
        pytest.param(
            "https://console.cloud.google.com/security/command-center/findings"
            f"?organizationId=123456789012&resourceId={V1}",
            FindingQuery(name=V2),
            id="console-older-resourceId-url",
        ),
        pytest.param(
            "<https://console.cloud.google.com/security/command-center/findings"
            f"?organizationId=123456789012&amp;resourceId={V1.replace('/', '%2F')}>",
            FindingQuery(name=V2),
            id="slack-link-brackets-and-escaped-ampersand",
        ),
        pytest.param(
            "<https://console.cloud.google.com/security/command-center/findingsv2"
            f";name={ENCODED_V2}|the finding>",
            FindingQuery(name=V2),
            id="slack-labelled-link",
        ),
        pytest.param(f"\u00a0“{V2}”\u200b ", FindingQuery(name=V2), id="nbsp-curly-quotes-zwsp"),
        pytest.param(f"`{V2}`", FindingQuery(name=V2), id="backticks"),
        pytest.param(f"'{V2}'.", FindingQuery(name=V2), id="quotes-and-trailing-period"),
        pytest.param(f"*{FID}*", FindingQuery(finding_id=FID), id="bold-bare-id"),
    ],
)
def test_accepted_finding_forms(typed: str, expected: FindingQuery) -> None:
    assert parse_finding_query(typed) == expected


def test_console_url_on_the_configured_console_host_is_accepted() -> None:
    url = f"https://console.example.test/security/command-center/findingsv2;name={ENCODED_V2}"

    assert parse_finding_query(url, console_hosts=("console.example.test",)).name == V2
    with pytest.raises(LookupInputError):
        parse_finding_query(url)


# -- rejected input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        pytest.param("", "Which finding?", id="empty"),
        pytest.param("\u00a0 \u200b", "Which finding?", id="only-whitespace"),
        pytest.param(f"{V2} {V1}", "one finding at a time", id="two-names"),
        pytest.param("abc", "is not a finding name", id="short-word"),
        pytest.param("payments-api", "is not a finding name", id="resource-name"),
        pytest.param(f"{FID}x", "is not a finding name", id="id-too-long"),
        pytest.param(
            f"organizations/acme/sources/{SOURCE}/findings/{FID}",
            "is not a finding name",
            id="organization-not-a-number",
        ),
        pytest.param(
            f"{ORG}/sources/abc/findings/{FID}", "is not a finding name", id="source-not-a-number"
        ),
        pytest.param(
            f"{ORG}/sources/{SOURCE}/findings/{FID[:10]}-x",
            "is not a finding name",
            id="id-with-dash",
        ),
        pytest.param(
            f'{V2}"OR"name:"x', "is not a finding name", id="filter-injection-without-spaces"
        ),
        pytest.param(f"{V2}/../../x", "is not a finding name", id="path-traversal"),
        pytest.param(
            f"https://evil.example.com/security/command-center/findingsv2;name={ENCODED_V2}",
            "is not a Security Command Center finding link",
            id="other-host",
        ),
        pytest.param(
            f"http://console.cloud.google.com/security/command-center/findingsv2;name={ENCODED_V2}",
            "is not a Security Command Center finding link",
            id="plain-http",
        ),
        pytest.param(
            "https://console.cloud.google.com/security/command-center/findings?organizationId=1",
            "is not a Security Command Center finding link",
            id="console-url-without-a-finding",
        ),
        pytest.param(
            "https://console.cloud.google.com/run/detail/us-central1/payments-api",
            "is not a Security Command Center finding link",
            id="other-console-page",
        ),
        pytest.param(
            "https://console.cloud.google.com/security/command-center/findingsv2;name=x%22%20OR",
            "is not a Security Command Center finding link",
            id="console-url-with-a-bad-name",
        ),
        pytest.param("<!channel>", "is not a finding name", id="slack-mention"),
    ],
)
def test_rejected_finding_input_names_an_example(typed: str, says: str) -> None:
    with pytest.raises(LookupInputError) as raised:
        parse_finding_query(typed)

    assert says in raised.value.message
    assert "show organizations/123/sources/456/locations/global/findings/abc123" in (
        raised.value.message
    )


def test_rejected_input_is_echoed_inert() -> None:
    with pytest.raises(LookupInputError) as raised:
        parse_finding_query("<@U024BE7LH>")

    assert "<@" not in raised.value.message
    assert "&lt;@U024BE7LH&gt;" in raised.value.message or "@U024BE7LH" in raised.value.message


def test_clean_token_unwraps_layers() -> None:
    assert clean_token(" “`<https://x.test/a?b=1&amp;c=2|label>`” ") == "https://x.test/a?b=1&c=2"


def test_name_from_console_url_ignores_a_lookalike_host() -> None:
    url = f"https://console.cloud.google.com.evil.test/security/command-center/findingsv2;name={ENCODED_V2}"

    assert name_from_console_url(url) is None


# -- names to requests --------------------------------------------------------------------


def test_source_parent_and_name_filter() -> None:
    assert source_parent(V2) == f"{ORG}/sources/{SOURCE}/locations/global"
    assert name_filter([V2]) == f'name="{V2}"'
    with pytest.raises(ValueError, match="not a v2 finding name"):
        name_filter(['x" OR name:"'])


def test_canonical_name_is_also_asked_for_in_its_organization_form() -> None:
    assert name_candidates(CANONICAL, ORG) == (CANONICAL, V2)
    assert name_candidates(CANONICAL, None) == (CANONICAL,)
    assert name_candidates(CANONICAL, "folders/42") == (CANONICAL,)
    assert name_candidates(V2, ORG) == (V2,)


# -- list filters -------------------------------------------------------------------------


def test_list_defaults_to_active_findings() -> None:
    query = parse_list_args("", now=NOW)

    assert query.scc_filter() == 'state="ACTIVE"'
    assert query.describe() == "state=ACTIVE"


def test_list_filter_is_built_from_every_token() -> None:
    query = parse_list_args(
        "severity=high,critical category=Reverse Shell project=acme-prod state=inactive since=24h",
        now=NOW,
    )

    assert query.severities == (Severity.CRITICAL, Severity.HIGH)
    assert query.scc_filter() == (
        'state="INACTIVE" AND (severity="CRITICAL" OR severity="HIGH") '
        'AND category:"Reverse Shell" '
        'AND resource.project_display_name="acme-prod" '
        'AND event_time >= "2026-05-12T12:00:30Z"'
    )


@pytest.mark.parametrize(
    ("typed", "clause"),
    [
        ("severity=LOW", 'severity="LOW"'),
        (
            'category="Execution: Malicious Python executed"',
            'category:"Execution: Malicious Python',
        ),
        ("category=“Added Binary”", 'category:"Added Binary"'),
        ("project=987654321098", 'resource.project_name="//cloudresourcemanager.googleapis.com/'),
        ("since=30m", 'event_time >= "2026-05-13T11:30:30Z"'),
        ("since=7d", 'event_time >= "2026-05-06T12:00:30Z"'),
        ("SINCE=2H", 'event_time >= "2026-05-13T10:00:30Z"'),
    ],
)
def test_list_tokens(typed: str, clause: str) -> None:
    assert clause in parse_list_args(typed, now=NOW).scc_filter()


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("sev=HIGH", "is not a filter"),
        ("severity=URGENT", "is not a severity"),
        ("severity=HIGH severity=LOW", "given twice"),
        ("state=OPEN", "is not a state"),
        (r"category=a\"b", "is not a category"),
        ("category=a;b", "is not a category"),
        ("category=x)OR(name:y", "is not a category"),
        ("project=Acme_Prod", "is not a project id"),
        ("project=a", "is not a project id"),
        ("since=5y", "is not a time span"),
        ("since=-1h", "is not a time span"),
        ("since=400d", "at most 365 days"),
        ("HIGH", "is not a filter"),
        ('category="Reverse Shell', "quote is not closed"),
    ],
)
def test_rejected_list_tokens(typed: str, says: str) -> None:
    with pytest.raises(LookupInputError) as raised:
        parse_list_args(typed, now=NOW)

    assert says in raised.value.message


def test_more_button_value_round_trips_and_refuses_tampering() -> None:
    query = parse_list_args("severity=HIGH since=1d", now=NOW).next_page("abc=", shown=10)

    decoded = ListQuery.decode(query.encode())

    assert decoded == query
    assert decoded.offset == 10
    assert decoded.scc_filter() == query.scc_filter()
    tampered = query.encode().replace('"HIGH"', '"HIGH\\" OR name:\\"x"')
    with pytest.raises(UserFacingError):
        ListQuery.decode(tampered)
    with pytest.raises(UserFacingError):
        ListQuery.decode('{"c": "x\\" OR state:\\"A"}')


# -- calls --------------------------------------------------------------------------------


@pytest.fixture
def settings_overrides(google_settings: dict[str, Any]) -> dict[str, Any]:
    return google_settings


def test_bare_id_resolves_only_when_the_bot_has_seen_it(services: Any) -> None:
    with pytest.raises(LookupInputError, match="has not seen"):
        resolve_finding_id(services.store, FID)

    services.pipeline.handle(
        Delivery(data=sample_bytes("malicious_python_v2.json"), message_id="m1")
    )

    assert resolve_finding_id(services.store, FID) == V2


def test_fetch_finding_asks_scc_for_the_one_name(services: Any, scc_standin: Any) -> None:
    record = fetch_finding(services.google.scc, V2, scc_parent=ORG)

    assert record.key == V2
    assert record.category == "Execution: Malicious Python executed"
    request = scc_standin.requests_to("ListFindings")[-1]
    assert request.parent == f"{ORG}/sources/{SOURCE}/locations/global"
    assert request.filter == f'name="{V2}"'


def test_permission_denied_names_the_role(services: Any, scc_standin: Any) -> None:
    scc_standin.fail_next("ListFindings", grpc.StatusCode.PERMISSION_DENIED, "denied")

    with pytest.raises(PermissionMissing) as raised:
        list_findings(services.google.scc, ListQuery(), scc_parent=ORG)

    assert "roles/securitycenter.findingsViewer" in raised.value.message


def _named(scope: str) -> str:
    return f"{scope}/sources/{SOURCE}/locations/global/findings/{FID}"


@pytest.mark.parametrize(
    ("scope", "parent"),
    [
        ("organizations/999999999999", ORG),
        (ORG, "folders/345"),
        ("folders/345", "projects/acme-prod"),
        ("projects/other-project", "projects/acme-prod"),
        ("projects/111", "projects/222"),
    ],
)
def test_names_outside_scc_parent_are_refused(scope: str, parent: str) -> None:
    with pytest.raises(LookupInputError, match=f"`SCC_PARENT` is `{parent}`"):
        check_in_scope(_named(scope), parent)


@pytest.mark.parametrize(
    ("scope", "parent"),
    [
        (ORG, ORG),
        # Folders and projects may belong to the organization: SCC decides.
        ("folders/345", ORG),
        ("projects/987654321098", ORG),
        ("folders/678", "folders/345"),
        ("projects/acme-prod", "projects/acme-prod"),
        ("projects/222", "projects/acme-prod"),
        ("organizations/999999999999", None),
    ],
)
def test_names_that_may_lie_under_scc_parent_are_let_through(
    scope: str, parent: str | None
) -> None:
    check_in_scope(_named(scope), parent)


def test_fetch_finding_outside_scc_parent_asks_scc_nothing(services: Any, scc_standin: Any) -> None:
    foreign = _named("organizations/999999999999")

    with pytest.raises(LookupInputError, match="outside what this bot looks after"):
        fetch_finding(services.google.scc, foreign, scc_parent=ORG)

    assert scc_standin.requests_to("ListFindings") == []


def test_listing_needs_scc_parent(services: Any, scc_standin: Any) -> None:
    with pytest.raises(UserFacingError, match="SCC_PARENT"):
        list_findings(services.google.scc, ListQuery(), scc_parent=None)

    assert scc_standin.requests_to("ListFindings") == []


def test_store_queries_behind_lookup_and_home(database_url: str) -> None:
    from bot.db import create_schema, make_engine
    from bot.store import FindingStore

    engine = make_engine(database_url)
    create_schema(engine)
    store = FindingStore(engine)
    other = V2.replace(f"sources/{SOURCE}", "sources/42")
    for key, severity, state, seen in (
        (V2, "CRITICAL", "ACTIVE", datetime(2026, 5, 12, 10, tzinfo=UTC)),
        (other, "CRITICAL", "ACTIVE", None),
        (V2.replace(FID, "f" * 32), "CRITICAL", "ACTIVE", datetime(2026, 5, 12, 11, tzinfo=UTC)),
        (V2.replace(FID, "e" * 32), "HIGH", "INACTIVE", None),
    ):
        store.claim(key, "w")
        store.save(
            key, "w", status="posted", severity=severity, state=state, mute="UNMUTED",
            channel="C0SECURITY", message_ts="1.1", last_event_time=seen,
        )  # fmt: skip

    assert sorted(store.keys_with_finding_id(FID)) == sorted([V2, other])
    assert store.keys_with_finding_id("%" + FID[1:]) == []
    assert store.open_counts_by_severity() == {"CRITICAL": 3}
    newest = [row.key for row in store.newest_open("CRITICAL", limit=2)]
    assert newest == [V2.replace(FID, "f" * 32), V2]
    engine.dispose()
