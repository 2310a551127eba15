"""The policy file's per-target options beyond region, names and retention: a target in another
subscription, a disk encryption set in the target region, and tags copied from the source
collection (docs/policies.md, "Target subscription, encryption and tags").

Each is an annotated type the `Target` model uses, so a bad value is refused at startup with the
file, line, column and field like every other policy problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from pydantic import PlainValidator
from pydantic_core import PydanticCustomError

from shared.errors import InvalidResourceId
from shared.model.copy_options import COPY, CREATE_IN_TARGET, CopyTags, Mode
from shared.model.ids import DiskEncryptionSetId, ResourceGroupId, parse_disk_id
from shared.model.tags import APP_TAG_PREFIX, COPY_TAG_ROOM

T = TypeVar("T")

# Azure: tag names up to 512 characters, none of these characters.
_MAX_TAG_NAME = 512
_BAD_TAG_NAME_CHARS = set("<>%&\\?/")


class TargetOptionError(ValueError):
    """A bad target option; the policy loader and the HTTP API word it their own way."""


_fail = TargetOptionError


def _policy(check: Callable[[object], T]) -> Callable[[object], T]:
    """The check as a policy-file validator (its message as the problem, no "Value error")."""

    def validate(value: object) -> T:
        try:
            return check(value)
        except TargetOptionError as exc:
            raise PydanticCustomError(
                "policy", "{message}", {"message": str(exc), "field": None}
            ) from None

    return validate


def subscription_id(value: object) -> str:
    if not isinstance(value, str) or "/" in value:
        raise _fail(f"{value!r} is not a subscription id (a GUID)")
    try:
        # The strict id parser's GUID, rather than a second GUID pattern.
        ResourceGroupId.parse(f"/subscriptions/{value}/resourceGroups/rg")
    except InvalidResourceId:
        raise _fail(
            f"{value!r} is not a subscription id (a GUID such as "
            "'00000000-0000-0000-0000-000000000000')"
        ) from None
    return value


def disk_encryption_set_id(value: object) -> str:
    try:
        return str(DiskEncryptionSetId.parse(value, "diskEncryptionSetId"))
    except InvalidResourceId as exc:
        raise _fail(str(exc)) from None


def copy_tags(value: object) -> CopyTags:
    """`true` (every tag), `false` (none) or a list of tag names."""
    if value is True:
        return "all"
    if value is False:
        return None
    if not isinstance(value, list):
        raise _fail("must be true, false or a list of tag names")
    if not value:
        raise _fail("must list at least one tag name (or be true for all, or be left out)")
    if len(value) > COPY_TAG_ROOM:
        raise _fail(
            f"lists {len(value)} tags; at most {COPY_TAG_ROOM} fit (Azure allows 50 tags per "
            "resource and the app writes up to 5 of its own)"
        )
    names: list[str] = []
    seen: set[str] = set()
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise _fail(f"tag names must be non-empty strings, not {name!r}")
        if len(name) > _MAX_TAG_NAME or _BAD_TAG_NAME_CHARS & set(name):
            raise _fail(
                f"{name!r} is not a valid Azure tag name (at most 512 characters, none of <>%&\\?/)"
            )
        if name.lower().startswith(APP_TAG_PREFIX):
            raise _fail(f"{name!r}: tags named rpcopy-* are the app's own and are never copied")
        if name.lower() in seen:
            raise _fail(f"tag {name!r} is listed twice (tag names are case-insensitive)")
        seen.add(name.lower())
        names.append(name)
    return tuple(names)


def mode(value: object) -> Mode:
    if value not in (COPY, CREATE_IN_TARGET):
        raise _fail(f"must be {COPY!r} (the default) or {CREATE_IN_TARGET!r}, not {value!r}")
    return value  # type: ignore[return-value]


def exclude_disks(value: object) -> tuple[str, ...]:
    """Managed disk ids to leave out of restore points created in the target."""
    if not isinstance(value, list) or not value:
        raise _fail("must be a non-empty list of managed disk ids")
    found: list[str] = []
    for item in value:
        try:
            disk = parse_disk_id(item, "excludeDisks entry")
        except InvalidResourceId as exc:
            raise _fail(str(exc)) from None
        if disk.lower() in {d.lower() for d in found}:
            raise _fail(f"disk {disk!r} is listed twice")
        found.append(disk)
    return tuple(found)


def mode_problem(
    chosen: Mode, *, exclude: tuple[str, ...], encryption_set: str | None, tags: CopyTags
) -> tuple[str, str] | None:
    """(field, message) when a target's options do not fit its mode, else None."""
    if chosen == COPY:
        if exclude:
            return (
                "excludeDisks",
                "only for mode 'create-in-target': Azure copies every disk of the source "
                "restore point (exclude disks when the source restore point is created)",
            )
        return None
    if encryption_set is not None:
        return (
            "diskEncryptionSetId",
            "not supported with mode 'create-in-target' (the app sends encryption only on "
            "copies); leave it out: the restore point uses Azure's default in the target region",
        )
    if tags is not None:
        return (
            "copyTags",
            "not supported with mode 'create-in-target': its target collection's source is the "
            "VM, not a collection whose tags could be copied",
        )
    return None


SubscriptionGuid = Annotated[str, PlainValidator(_policy(subscription_id))]
DiskEncryptionSetRef = Annotated[str, PlainValidator(_policy(disk_encryption_set_id))]
CopyTagsSetting = Annotated[CopyTags, PlainValidator(_policy(copy_tags))]
ModeSetting = Annotated[Mode, PlainValidator(_policy(mode))]
ExcludeDisksSetting = Annotated[tuple[str, ...], PlainValidator(_policy(exclude_disks))]
