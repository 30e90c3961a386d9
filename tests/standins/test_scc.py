"""The SCC stand-in through the official securitycenter_v2 client."""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Iterator

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import securitycenter_v2
from google.cloud.securitycenter_v2.services.security_center.transports import (
    SecurityCenterGrpcTransport,
)
from google.protobuf import field_mask_pb2

from standins.scc import SccStandIn

REFERENCE = pathlib.Path("/work/shared/reference")
ORG_PARENT = "organizations/123456789012/sources/-/locations/global"
PYTHON_FINDING = (
    "organizations/123456789012/sources/11223344556677889900/locations/global/findings/"
    "23eeeb4347bdd26bfc6b7ee9a3b755dd"
)
SCRIPT_SHA = "fb25b756caf04c3aea513077939e50ea1072b2e6ca2c7858e970ad896606d423"


@pytest.fixture
def scc() -> Iterator[SccStandIn]:
    with SccStandIn() as standin:
        for path in sorted(REFERENCE.glob("*.json")):
            standin.add_notification_json(path.read_text())
        yield standin


@pytest.fixture
def client(scc: SccStandIn) -> Iterator[securitycenter_v2.SecurityCenterClient]:
    channel = grpc.insecure_channel(scc.address)
    yield securitycenter_v2.SecurityCenterClient(
        transport=SecurityCenterGrpcTransport(channel=channel)
    )
    channel.close()


def _names(client: securitycenter_v2.SecurityCenterClient, filter_: str, **kw: object) -> list[str]:
    request = securitycenter_v2.ListFindingsRequest(parent=ORG_PARENT, filter=filter_, **kw)
    return [r.finding.name for r in client.list_findings(request=request)]


def _add_findings(scc: SccStandIn, count: int) -> None:
    start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    for index in range(count):
        scc.add_finding(
            securitycenter_v2.Finding(
                name=f"organizations/123456789012/sources/555/locations/global/findings/f{index:03}",
                parent="organizations/123456789012/sources/555/locations/global",
                resource_name="//storage.googleapis.com/bucket-a",
                category="PUBLIC_BUCKET_ACL",
                state=securitycenter_v2.Finding.State.ACTIVE,
                severity=securitycenter_v2.Finding.Severity.HIGH,
                finding_class=securitycenter_v2.Finding.FindingClass.MISCONFIGURATION,
                event_time=start + dt.timedelta(hours=index),
            )
        )


def test_notification_finding_comes_back_with_its_resource(
    client: securitycenter_v2.SecurityCenterClient,
) -> None:
    request = securitycenter_v2.ListFindingsRequest(
        parent=ORG_PARENT, filter=f'name="{PYTHON_FINDING}"'
    )
    results = list(client.list_findings(request=request))

    assert len(results) == 1
    assert results[0].finding.category == "Execution: Malicious Python executed"
    assert results[0].finding.processes[0].script.sha256 == SCRIPT_SHA
    assert results[0].resource.gcp_metadata.project_display_name == "acme-prod"
    assert results[0].resource.type_ == "run.googleapis.com/Service"


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ('category="Execution: Malicious Python executed"', 1),
        ('category:"Malicious Python"', 1),
        ('category!="Execution: Malicious Python executed"', 1),
        ('state="ACTIVE" AND severity="CRITICAL"', 2),
        ('finding_class="THREAT" AND mute="UNDEFINED"', 2),
        ('-category:"Python"', 1),
        ('NOT category:"Python"', 1),
        ('category:"Reverse" OR category:"Python"', 2),
        ('(category:"Reverse" OR category:"Python") AND resource.type="x"', 0),
        ('resource.type="run.googleapis.com/Service"', 2),
        ('resource.display_name="payments-api"', 2),
        ('resource.project_display_name="acme-prod"', 2),
        ('resource.gcp_metadata.project_display_name="acme-prod"', 2),
        ('resource_name:"services/payments-api"', 2),
        ('parent="organizations/123456789012/sources/11223344556677889900/locations/global"', 2),
        (f'processes.script.sha256="{SCRIPT_SHA}"', 1),
        ('source_properties.Container_Image_Uri:"payments-api:1.4.2"', 2),
        ("source_properties.Container_Image_Uri:*", 2),
        ('event_time >= "2026-05-12T10:14:07Z"', 2),
        ('event_time < "2026-05-12T10:14:07Z"', 0),
        ("event_time > 1778580847000", 2),
        ('create_time <= "2026-01-01T00:00:00+00:00"', 0),
    ],
)
def test_filter_forms(
    client: securitycenter_v2.SecurityCenterClient, filter_: str, expected: int
) -> None:
    assert len(_names(client, filter_)) == expected


@pytest.mark.parametrize(
    "filter_",
    [
        "category=Execution",
        'category>"A"',
        'no_such_field="x"',
        'process.script.sha256="abc"',
        'category="unterminated',
        '(state="ACTIVE"',
        'state="NOT_A_STATE"',
        'event_time>"yesterday"',
    ],
)
def test_filters_outside_the_grammar_are_invalid_argument(
    client: securitycenter_v2.SecurityCenterClient, filter_: str
) -> None:
    with pytest.raises(exceptions.InvalidArgument):
        _names(client, filter_)


def test_parent_format_is_validated(client: securitycenter_v2.SecurityCenterClient) -> None:
    with pytest.raises(exceptions.InvalidArgument, match="invalid parent"):
        list(client.list_findings(parent="organizations/123456789012/findings"))


def test_project_parent_matches_by_project_id(
    client: securitycenter_v2.SecurityCenterClient,
) -> None:
    assert len(list(client.list_findings(parent="projects/acme-prod/sources/-"))) == 2
    assert list(client.list_findings(parent="projects/other/sources/-")) == []


def test_pagination_and_order(
    scc: SccStandIn, client: securitycenter_v2.SecurityCenterClient
) -> None:
    _add_findings(scc, 25)

    request = securitycenter_v2.ListFindingsRequest(
        parent=ORG_PARENT, filter='category="PUBLIC_BUCKET_ACL"', order_by="event_time desc"
    )
    first = client.list_findings(request=request)
    names = [r.finding.name for r in first]

    assert names[0].endswith("/f024")
    assert names[-1].endswith("/f000")
    assert len(names) == 25
    pages = scc.requests_to("ListFindings")
    assert [p.page_token != "" for p in pages] == [False, True, True]
    ascending = _names(client, 'category="PUBLIC_BUCKET_ACL"', order_by="event_time")
    assert ascending == list(reversed(names))


def test_page_size_total_size_and_token_bound_to_query(
    scc: SccStandIn, client: securitycenter_v2.SecurityCenterClient
) -> None:
    _add_findings(scc, 5)
    request = securitycenter_v2.ListFindingsRequest(parent=ORG_PARENT, page_size=3)

    page = next(iter(client.list_findings(request=request).pages))

    assert len(page.list_findings_results) == 3
    assert page.total_size == 7
    with pytest.raises(exceptions.InvalidArgument, match="page_token"):
        next(
            iter(
                client.list_findings(
                    request={
                        "parent": ORG_PARENT,
                        "filter": 'state="ACTIVE"',
                        "page_token": page.next_page_token,
                    }
                ).pages
            )
        )
    with pytest.raises(exceptions.InvalidArgument):
        list(client.list_findings(request={"parent": ORG_PARENT, "page_size": 1001}))


def test_set_mute_and_state(
    scc: SccStandIn, client: securitycenter_v2.SecurityCenterClient
) -> None:
    muted = client.set_mute(name=PYTHON_FINDING, mute=securitycenter_v2.Finding.Mute.MUTED)
    inactive = client.set_finding_state(
        name=PYTHON_FINDING, state=securitycenter_v2.Finding.State.INACTIVE
    )

    assert muted.mute == securitycenter_v2.Finding.Mute.MUTED
    assert inactive.state == securitycenter_v2.Finding.State.INACTIVE
    assert scc.finding(PYTHON_FINDING).mute == securitycenter_v2.Finding.Mute.MUTED
    assert _names(client, 'mute="MUTED" AND state="INACTIVE"') == [PYTHON_FINDING]
    assert scc.requests_to("SetMute")[0].name == PYTHON_FINDING
    with pytest.raises(exceptions.NotFound):
        client.set_mute(name=PYTHON_FINDING[:-3] + "fff", mute=securitycenter_v2.Finding.Mute.MUTED)


def test_update_security_marks_with_and_without_mask(
    scc: SccStandIn, client: securitycenter_v2.SecurityCenterClient
) -> None:
    marks_name = PYTHON_FINDING + "/securityMarks"
    client.update_security_marks(
        security_marks=securitycenter_v2.SecurityMarks(
            name=marks_name, marks={"triage": "open", "owner": "payments"}
        )
    )

    masked = client.update_security_marks(
        security_marks=securitycenter_v2.SecurityMarks(name=marks_name, marks={"triage": "done"}),
        update_mask=field_mask_pb2.FieldMask(paths=["marks.triage", "marks.ticket"]),
    )

    assert dict(masked.marks) == {"triage": "done", "owner": "payments"}
    assert _names(client, 'security_marks.marks.triage="done"') == [PYTHON_FINDING]
    replaced = client.update_security_marks(
        security_marks=securitycenter_v2.SecurityMarks(name=marks_name, marks={"x": "1"})
    )
    assert dict(replaced.marks) == {"x": "1"}
    assert list(scc.requests_to("UpdateSecurityMarks")[1].update_mask.paths) == [
        "marks.triage",
        "marks.ticket",
    ]
    with pytest.raises(exceptions.InvalidArgument):
        client.update_security_marks(
            security_marks=securitycenter_v2.SecurityMarks(name=marks_name),
            update_mask=field_mask_pb2.FieldMask(paths=["name"]),
        )


def test_injected_failure_and_get_source(
    scc: SccStandIn, client: securitycenter_v2.SecurityCenterClient
) -> None:
    scc.fail_next("ListFindings", grpc.StatusCode.PERMISSION_DENIED, "no access")

    with pytest.raises(exceptions.PermissionDenied, match="no access"):
        list(client.list_findings(parent=ORG_PARENT))

    assert len(list(client.list_findings(parent=ORG_PARENT))) == 2
    source = client.get_source(
        name="organizations/123456789012/sources/11223344556677889900/locations/global"
    )
    assert source.display_name == "Cloud Run Threat Detection"
