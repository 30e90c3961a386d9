"""Quoted field segments in list filters, as Cloud Logging documents for label keys."""

from __future__ import annotations

import pytest

from standins import filters


def test_quoted_label_key_is_one_segment() -> None:
    expr = filters.parse('labels."run.googleapis.com/execution_name"="job-1"', bare_values=True)
    assert isinstance(expr, filters.Restriction)
    assert filters.field_path(expr.field) == ["labels", "run.googleapis.com/execution_name"]

    def resolve(field: str) -> list[object]:
        labels = {"run.googleapis.com/execution_name": "job-1"}
        path = filters.field_path(field)
        return [labels[path[1]]] if path[0] == "labels" and path[1] in labels else []

    assert filters.evaluate(expr, resolve)
    other = filters.parse('labels."run.googleapis.com/execution_name"="job-2"')
    assert not filters.evaluate(other, resolve)


def test_plain_paths_are_unchanged() -> None:
    assert filters.field_path("resource.labels.service_name") == [
        "resource",
        "labels",
        "service_name",
    ]
    with pytest.raises(filters.FilterError):
        filters.parse('"quoted"="x"')
