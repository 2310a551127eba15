"""Reading HTTP requests: bodies and query strings become typed values or InvalidRequest."""

from __future__ import annotations

from collections.abc import Mapping

from shared.errors import InvalidRequest, InvalidResourceId
from shared.http_api.models import COPY_ONLY_FIELDS, CREATE_ONLY_FIELDS, CopyRequestBody
from shared.jobs.create_intake import CreateRequest
from shared.jobs.intake import CopyRequest
from shared.model.copy_options import CREATE_IN_TARGET, CopyOptions
from shared.model.ids import CollectionId, RestorePointId, VirtualMachineId
from shared.model.job import JobState
from shared.model.json_input import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, InvalidJson, load_json
from shared.model.message import Trigger
from shared.model.regions import normalize_region
from shared.policies import target_options
from shared.storage.ledger import JobFilter

# The documented body (models.CopyRequestBody) names the fields this parser allows.
_BODY_FIELDS = {f.alias or name for name, f in CopyRequestBody.model_fields.items()}
POST_FIELDS = _BODY_FIELDS - CREATE_ONLY_FIELDS
# POST /api/copies with `sourceVmId`: a restore point created in the target from the VM.
CREATE_FIELDS = _BODY_FIELDS - COPY_ONLY_FIELDS
# `code` is the function key; it may arrive as a query parameter and is not a filter.
LIST_PARAMS = {
    "state",
    "sourceCollectionId",
    "sourceVmId",
    "targetRegion",
    "pageSize",
    "cursor",
    "code",
}


def read_json_object(
    body: bytes, *, max_bytes: int, max_depth: int, what: str, example: str
) -> dict[str, object]:
    """A request body that must be one JSON object; InvalidRequest (titled for `what`, with
    `example` as the shape to send) for anything else."""
    try:
        document = (
            load_json(body, what="the request body", max_bytes=max_bytes, max_depth=max_depth)
            if body
            else None
        )
    except InvalidJson as exc:
        raise InvalidRequest("Malformed JSON", str(exc)) from None
    if not isinstance(document, dict):
        raise InvalidRequest(f"Invalid {what}", f"the body must be a JSON object such as {example}")
    return document


def parse_copy_request(
    body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> CopyRequest | CreateRequest:
    """Validate the POST body; InvalidRequest names each problem. A body with `sourceVmId` asks
    for a restore point created in the target region from that VM (create-in-target)."""
    document = read_json_object(
        body,
        max_bytes=max_bytes,
        max_depth=max_depth,
        what="copy request",
        example='{"sourceRestorePointId": "...", "targetRegion": "westus"}',
    )
    if "sourceVmId" in document:
        return parse_create_request(document)
    errors: list[dict[str, str]] = []
    unknown = sorted(set(document) - POST_FIELDS)
    for name in unknown:
        errors.append(
            {
                "field": name,
                "message": f"unknown field {name!r}; allowed: {', '.join(sorted(POST_FIELDS))}",
            }
        )
    source: RestorePointId | None = None
    if "sourceRestorePointId" not in document:
        errors.append({"field": "sourceRestorePointId", "message": "is required"})
    else:
        try:
            source = RestorePointId.parse(document["sourceRestorePointId"], "sourceRestorePointId")
        except InvalidResourceId as exc:
            errors.append({"field": "sourceRestorePointId", "message": str(exc)})
    if "targetRegion" not in document:
        errors.append({"field": "targetRegion", "message": "is required"})
    elif not isinstance(document["targetRegion"], str):
        errors.append({"field": "targetRegion", "message": "must be a string such as 'westus'"})
    for optional in ("targetResourceGroup", "targetCollectionName"):
        if optional in document and not isinstance(document[optional], str):
            errors.append({"field": optional, "message": "must be a string"})
    options = _copy_options(document, errors)
    if errors or source is None:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise InvalidRequest("Invalid copy request", detail, errors=errors)
    return CopyRequest(
        source=source,
        target_region=document["targetRegion"],
        target_resource_group=document.get("targetResourceGroup") or None,
        target_collection_name=document.get("targetCollectionName") or None,
        trigger=Trigger.HTTP,
        options=options,
    )


def _copy_options(document: Mapping[str, object], errors: list[dict[str, str]]) -> CopyOptions:
    """targetSubscriptionId, diskEncryptionSetId and copyTags, read as the policy file reads
    them (the same validators, so both ways in refuse the same values)."""
    values: dict[str, object] = {}
    for name, key, check in (
        ("targetSubscriptionId", "target_subscription_id", target_options.subscription_id),
        ("diskEncryptionSetId", "disk_encryption_set_id", target_options.disk_encryption_set_id),
        ("copyTags", "copy_tags", target_options.copy_tags),
    ):
        if document.get(name) is None:
            continue
        try:
            values[key] = check(document[name])
        except ValueError as exc:
            errors.append({"field": name, "message": str(exc)})
    return CopyOptions(**values)


def parse_create_request(document: Mapping[str, object]) -> CreateRequest:
    """`{"sourceVmId", "targetRegion", "targetResourceGroup"?, "targetCollectionName"?,
    "restorePointName"?, "excludeDisks"?, "targetSubscriptionId"?}`."""
    errors: list[dict[str, str]] = []
    for name in sorted(set(document) - CREATE_FIELDS):
        errors.append(
            {
                "field": name,
                "message": f"unknown field {name!r} for a create-in-target request (with "
                f"sourceVmId); allowed: {', '.join(sorted(CREATE_FIELDS))}",
            }
        )
    vm: VirtualMachineId | None = None
    try:
        vm = VirtualMachineId.parse(document["sourceVmId"], "sourceVmId")
    except InvalidResourceId as exc:
        errors.append({"field": "sourceVmId", "message": str(exc)})
    if not isinstance(document.get("targetRegion"), str):
        errors.append(
            {"field": "targetRegion", "message": "is required: a string such as 'westus'"}
        )
    for optional in ("targetResourceGroup", "targetCollectionName", "restorePointName"):
        if document.get(optional) is not None and not isinstance(document[optional], str):
            errors.append({"field": optional, "message": "must be a string"})
    values: dict[str, object] = {"mode": CREATE_IN_TARGET}
    for name, key, check in (
        ("targetSubscriptionId", "target_subscription_id", target_options.subscription_id),
        ("excludeDisks", "exclude_disks", target_options.exclude_disks),
    ):
        if document.get(name) is None:
            continue
        try:
            values[key] = check(document[name])
        except ValueError as exc:
            errors.append({"field": name, "message": str(exc)})
    if errors or vm is None:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise InvalidRequest("Invalid create request", detail, errors=errors)

    def text(name: str) -> str | None:
        value = document.get(name)
        return value if isinstance(value, str) and value else None

    return CreateRequest(
        vm=vm,
        target_region=str(document["targetRegion"]),
        target_resource_group=text("targetResourceGroup"),
        target_collection_name=text("targetCollectionName"),
        restore_point_name=text("restorePointName"),
        trigger=Trigger.HTTP,
        options=CopyOptions(**values),
    )


def parse_list_query(params: Mapping[str, str]) -> tuple[JobFilter, int, str | None]:
    errors: list[dict[str, str]] = []
    for name in sorted(set(params) - LIST_PARAMS):
        errors.append(
            {
                "field": name,
                "message": "unknown query parameter; allowed: state, "
                "sourceCollectionId, sourceVmId, targetRegion, pageSize, cursor",
            }
        )
    state = None
    if params.get("state"):
        try:
            # Case-insensitive, as the region and id filters are.
            state = JobState.parse(params["state"])
        except ValueError:
            errors.append(
                {
                    "field": "state",
                    "message": f"must be one of {', '.join(s.value for s in JobState)}",
                }
            )
    source = None
    if params.get("sourceCollectionId"):
        try:
            source = str(CollectionId.parse(params["sourceCollectionId"], "sourceCollectionId"))
        except InvalidResourceId as exc:
            errors.append({"field": "sourceCollectionId", "message": str(exc)})
    vm = None
    if params.get("sourceVmId"):
        try:
            vm = str(VirtualMachineId.parse(params["sourceVmId"], "sourceVmId"))
        except InvalidResourceId as exc:
            errors.append({"field": "sourceVmId", "message": str(exc)})
    region = None
    if params.get("targetRegion"):
        try:
            region = normalize_region(params["targetRegion"], "targetRegion")
        except InvalidResourceId as exc:
            errors.append({"field": "targetRegion", "message": str(exc)})
    page_size = 50
    if params.get("pageSize"):
        raw = params["pageSize"]
        # isdigit() alone accepts "²", which int() refuses.
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1000:
            errors.append({"field": "pageSize", "message": "must be a whole number from 1 to 1000"})
        else:
            page_size = int(raw)
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise InvalidRequest("Invalid query", detail, errors=errors)
    return JobFilter(state, source, region, vm), page_size, params.get("cursor") or None


# -- DELETE /api/copies/{id} (cancel) ------------------------------------------------------------
CANCEL_PARAMS = {"deleteCopy", "code"}
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def parse_cancel_query(params: Mapping[str, str]) -> bool:
    """Whether the cancel deletes the copy in the target too (`deleteCopy`, default false)."""
    errors = [
        {"field": name, "message": "unknown query parameter; allowed: deleteCopy"}
        for name in sorted(set(params) - CANCEL_PARAMS)
    ]
    raw = params.get("deleteCopy", "false").strip().lower()
    if raw not in _BOOLEANS:
        errors.append({"field": "deleteCopy", "message": "must be true or false"})
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise InvalidRequest("Invalid query", detail, errors=errors)
    return _BOOLEANS[raw]
