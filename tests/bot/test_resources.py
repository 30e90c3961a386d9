from __future__ import annotations

import pytest

from bot.resources import RunKind, parse_cloud_run_target


@pytest.mark.parametrize(
    ("name", "location", "expected"),
    [
        (
            "//run.googleapis.com/projects/acme-prod/locations/us-central1/services/api",
            "",
            (RunKind.SERVICE, "acme-prod", "us-central1", "api", "", ""),
        ),
        (
            "//run.googleapis.com/projects/acme-prod/locations/us-central1/services/api/revisions/api-00003-abc",
            "",
            (RunKind.SERVICE, "acme-prod", "us-central1", "api", "api-00003-abc", ""),
        ),
        (
            "projects/123456789012/locations/europe-west1/revisions/api-00003-abc",
            "",
            (RunKind.SERVICE, "123456789012", "europe-west1", "api", "api-00003-abc", ""),
        ),
        (
            "//run.googleapis.com/projects/acme-prod/locations/us-central1/jobs/etl",
            "",
            (RunKind.JOB, "acme-prod", "us-central1", "etl", "", ""),
        ),
        (
            "//run.googleapis.com/projects/acme-prod/locations/us-central1/jobs/etl/executions/etl-x7k2p",
            "",
            (RunKind.JOB, "acme-prod", "us-central1", "etl", "", "etl-x7k2p"),
        ),
        (
            "//run.googleapis.com/namespaces/acme-prod/services/api",
            "asia-northeast1",
            (RunKind.SERVICE, "acme-prod", "asia-northeast1", "api", "", ""),
        ),
    ],
)
def test_every_resource_name_form(
    name: str, location: str, expected: tuple[RunKind, str, str, str, str, str]
) -> None:
    target = parse_cloud_run_target(name, location=location)

    assert target is not None
    assert (
        target.kind,
        target.project,
        target.location,
        target.name,
        target.revision,
        target.execution,
    ) == expected


@pytest.mark.parametrize(
    "name",
    [
        "//compute.googleapis.com/projects/acme-prod/zones/us-central1-a/instances/vm-1",
        "//run.googleapis.com/projects/acme-prod/locations/us-central1/services/API",
        "//run.googleapis.com/projects/acme-prod/locations/us-central1/services/a/../b",
        '//run.googleapis.com/projects/acme-prod/locations/us-central1/services/a" OR "1',
        "//run.googleapis.com/namespaces/acme-prod/services/api",  # no location known
        "",
    ],
)
def test_names_that_are_not_valid_cloud_run_resources(name: str) -> None:
    assert parse_cloud_run_target(name) is None


def test_paths_for_api_calls() -> None:
    target = parse_cloud_run_target(
        "//run.googleapis.com/projects/p-123456/locations/us-east1/services/web/revisions/web-00001-aaa"
    )

    assert target is not None
    assert target.path == "projects/p-123456/locations/us-east1/services/web"
    assert target.revision_path == (
        "projects/p-123456/locations/us-east1/services/web/revisions/web-00001-aaa"
    )


def test_runtime_hint_must_belong_to_the_service() -> None:
    target = parse_cloud_run_target("projects/acme-prod/locations/us-east1/services/web")
    assert target is not None

    assert target.with_runtime_hints({"revision": "web-00002-bbb"}).revision == "web-00002-bbb"
    assert target.with_runtime_hints({"revision": "other-00002-bbb"}).revision == ""
    assert target.with_runtime_hints({"revision": "web-<!here>"}).revision == ""
