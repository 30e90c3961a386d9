"""Field names and operators that SCC v2 ``ListFindings`` filters accept."""

from __future__ import annotations

from typing import Any

from google.cloud import securitycenter_v2
from google.protobuf import descriptor as pb_descriptor

from standins import filters

_FIELD = pb_descriptor.FieldDescriptor
_FINDING = securitycenter_v2.Finding.pb().DESCRIPTOR
_RESOURCE = securitycenter_v2.Resource.pb().DESCRIPTOR

# v1 kept project and parent names at the top of the resource; v2 moved them under
# gcp_metadata, and the documented filter names still use the short forms.
_RESOURCE_ALIASES = {
    "project_name": "gcp_metadata.project",
    "project_display_name": "gcp_metadata.project_display_name",
    "parent_name": "gcp_metadata.parent",
    "parent_display_name": "gcp_metadata.parent_display_name",
    "folders": "gcp_metadata.folders",
    "organization": "gcp_metadata.organization",
}
_ORDERED_KINDS = (
    _FIELD.TYPE_INT32,
    _FIELD.TYPE_INT64,
    _FIELD.TYPE_UINT32,
    _FIELD.TYPE_UINT64,
    _FIELD.TYPE_FLOAT,
    _FIELD.TYPE_DOUBLE,
)


def split_field(field: str) -> tuple[str, list[str]]:
    """Return which message a filter field reads ("finding" or "resource") and its path."""
    parts = field.split(".")
    if parts[0] == "resource" and len(parts) > 1:
        rest = ".".join(parts[1:])
        for alias, target in _RESOURCE_ALIASES.items():
            if rest == alias or rest.startswith(alias + "."):
                rest = target + rest[len(alias) :]
                break
        return "resource", rest.split(".")
    return "finding", parts


def check(expr: filters.Expr | None) -> None:
    """Raise FilterError for a field or operator the service would refuse."""
    for restriction in filters.restrictions(expr):
        target, path = split_field(restriction.field)
        descriptor = _RESOURCE if target == "resource" else _FINDING
        leaf = _leaf_field(descriptor, path, restriction.field)
        if restriction.op in ("<", "<=", ">", ">=") and not _orderable(leaf):
            raise filters.FilterError(
                f"operator {restriction.op!r} is not supported for field {restriction.field!r}"
            )


def _leaf_field(
    descriptor: pb_descriptor.Descriptor, path: list[str], name: str
) -> pb_descriptor.FieldDescriptor | None:
    field: pb_descriptor.FieldDescriptor | None = None
    for index, part in enumerate(path):
        field = descriptor.fields_by_name.get(part) or descriptor.fields_by_name.get(part + "_")
        if field is None:
            raise filters.FilterError(f"invalid filter field {name!r}")
        message = field.message_type
        if message is not None and message.GetOptions().map_entry:
            if index + 1 >= len(path):
                raise filters.FilterError(f"field {name!r} needs a key")
            # Map keys are free-form; values such as source_properties are JSON values.
            return None
        if message is None:
            if index + 1 < len(path):
                raise filters.FilterError(f"invalid filter field {name!r}")
            return field
        descriptor = message
    if field is not None and field.message_type is not None:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return field
        raise filters.FilterError(f"field {name!r} is a message, name one of its fields")
    return field


def _orderable(field: pb_descriptor.FieldDescriptor | None) -> bool:
    if field is None:
        return True
    if field.message_type is not None:
        return field.message_type.full_name == "google.protobuf.Timestamp"
    return field.type in _ORDERED_KINDS


def resolver(finding: Any, resource: Any) -> filters.Resolver:
    """Return a resolver over one finding (raw protobuf) and its resource."""

    def resolve(field: str) -> list[Any]:
        target, path = split_field(field)
        return filters.proto_values(resource if target == "resource" else finding, path)

    return resolve
