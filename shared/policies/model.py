"""The policy file's model: policies, matches, targets and retention, validated by pydantic."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from shared.errors import InvalidResourceId
from shared.model.ids import CollectionId, ResourceGroupId, validate_resource_group_name
from shared.model.regions import known_regions, normalize_region
from shared.policies.drill import DrillPolicy  # restore drills: their own module
from shared.policies.names import DEFAULT_COLLECTION_TEMPLATE, render_template, template_problems
from shared.policies.schedules import CreateSpec, ScheduleSpec, check_rpo_against_schedule
from shared.policies.target_options import (
    CopyTagsSetting,
    DiskEncryptionSetRef,
    ExcludeDisksSetting,
    ModeSetting,
    SubscriptionGuid,
    mode_problem,
)

SUPPORTED_VERSION = 1

_POLICY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_ZERO_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

# Values a template is test-rendered with when the file is loaded: a typical source, and a
# longest-possible one (80-character collection, 90-character resource group) to prove trimming.
_SAMPLE = {
    "sourceCollection": "vm01-rpc",
    "sourceResourceGroup": "rg-source",
    "sourceRegion": "eastus",
}

_LONG_SAMPLE = {"sourceCollection": "c" * 80, "sourceResourceGroup": "g" * 90}


# --------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong with a policy file; `str()` is the line an editor or CI log can jump to."""

    source_name: str
    line: int | None
    column: int | None
    path: str | None
    message: str

    def __str__(self) -> str:
        where = self.source_name
        if self.line is not None:
            where += f":{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


def _fail(message: str, field_hint: str | None = None) -> PydanticCustomError:
    # `field` lets a model-level check point at the field it is about rather than the object.
    return PydanticCustomError("policy", "{message}", {"message": message, "field": field_hint})


def _regions_from(info: ValidationInfo) -> frozenset[str]:
    context = info.context or {}
    return known_regions(context.get("extra_regions", frozenset()))


def known_region(value: object, regions: frozenset[str], what: str = "region") -> str:
    """Normalized region, or InvalidResourceId naming the problem."""
    region = normalize_region(value, what)
    if region not in regions:
        raise InvalidResourceId(
            f"{region!r} is not a known Azure region (add it to EXTRA_REGIONS if it is new)"
        )
    return region


# --------------------------------------------------------------------------------------------
# The policy file model


class Specificity(IntEnum):
    """How a collection was matched; the most specific match wins a target region."""

    SUBSCRIPTION = 1
    RESOURCE_GROUP = 2
    COLLECTION_TAGS = 3
    COLLECTION_ID = 4

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Specificity.SUBSCRIPTION: "subscriptionId",
    Specificity.RESOURCE_GROUP: "resourceGroup",
    Specificity.COLLECTION_TAGS: "collectionTags",
    Specificity.COLLECTION_ID: "collectionIds",
}


class _Model(BaseModel):
    # camelCase in the file only; unknown fields are refused so a typo never silently means
    # "use the default".
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
    )


StrictStr = Annotated[str, Strict()]
PositiveInt = Annotated[int, Strict(), Field(ge=1)]
PositiveNumber = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]


def _collection_id(value: object) -> CollectionId:
    try:
        return CollectionId.parse(value, "collection id")
    except InvalidResourceId as exc:
        raise _fail(str(exc)) from None


ParsedCollectionId = Annotated[CollectionId, PlainValidator(_collection_id)]


def _resource_group(value: str) -> str:
    try:
        return validate_resource_group_name(value)
    except InvalidResourceId as exc:
        raise _fail(str(exc)) from None


ResourceGroupName = Annotated[StrictStr, AfterValidator(_resource_group)]


class Retention(_Model):
    """Which target copies to keep; a copy is kept if either rule keeps it (see docs)."""

    keep_last: PositiveInt | None = None
    max_age_days: PositiveNumber | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Retention:
        if self.keep_last is None and self.max_age_days is None:
            raise _fail("set keepLast and/or maxAgeDays, or leave retention out to keep every copy")
        return self


class Target(_Model):
    """One target region of a policy (or of a collection's tags)."""

    region: StrictStr
    resource_group: ResourceGroupName | None = None
    collection_name: StrictStr = DEFAULT_COLLECTION_TEMPLATE
    retention: Retention | None = None
    rpo_minutes: PositiveInt | None = None
    # -- target subscription, encryption and copied tags (shared/policies/target_options.py)
    subscription_id: SubscriptionGuid | None = None
    disk_encryption_set_id: DiskEncryptionSetRef | None = None
    copy_tags: CopyTagsSetting = None
    mode: ModeSetting = "copy"
    exclude_disks: ExcludeDisksSetting = ()

    @model_validator(mode="after")
    def _options_fit_the_mode(self) -> Target:
        problem = mode_problem(
            self.mode,
            exclude=self.exclude_disks,
            encryption_set=self.disk_encryption_set_id,
            tags=self.copy_tags,
        )
        if problem is not None:
            raise _fail(problem[1], problem[0])
        return self

    # Copy schedules (shared/policies/schedules.py): copy at these slots only.
    copy_schedule: ScheduleSpec | None = None

    @model_validator(mode="after")
    def _rpo_meets_schedule(self) -> Target:
        check_rpo_against_schedule(self.rpo_minutes, self.copy_schedule)
        return self

    @field_validator("region")
    @classmethod
    def _region(cls, value: str, info: ValidationInfo) -> str:
        try:
            return known_region(value, _regions_from(info))
        except InvalidResourceId as exc:
            raise _fail(str(exc)) from None

    @field_validator("collection_name", mode="before")
    @classmethod
    def _null_template(cls, value: object) -> object:
        # null means "not given", as for every other optional field.
        return DEFAULT_COLLECTION_TEMPLATE if value is None else value

    @field_validator("collection_name")
    @classmethod
    def _template(cls, value: str, info: ValidationInfo) -> str:
        problems = template_problems(value)
        if problems:
            raise _fail("; ".join(problems))
        # Render for a sample source so a template that can never give a valid name (a '/', a
        # fixed part over 80 characters) is refused now, not at the first copy.
        target_region = info.data.get("region", "westus")
        longest_region = max(sorted(_regions_from(info)), key=len, default="eastus")
        for sample in (_SAMPLE, {**_SAMPLE, **_LONG_SAMPLE, "sourceRegion": longest_region}):
            try:
                render_template(
                    value,
                    {**sample, "targetRegion": target_region, "subscriptionId": _ZERO_SUBSCRIPTION},
                )
            except InvalidResourceId as exc:
                raise _fail(
                    f"renders an invalid name for a source collection of "
                    f"{len(sample['sourceCollection'])} characters: {exc}"
                ) from None
        return value

    @model_validator(mode="after")
    def _not_the_source(self) -> Target:
        sample_name = _sample_name(self.collection_name, self.region)
        # (A target in another subscription cannot collide with the source.)
        same_scope = self.resource_group is None and self.subscription_id is None
        if same_scope and sample_name == _SAMPLE["sourceCollection"]:
            raise _fail(
                "renders the source collection's own name and no resourceGroup is set: the "
                "target would collide with the source in its resource group",
                "collectionName",
            )
        return self


def _sample_name(template: str, region: str) -> str:
    return render_template(
        template, {**_SAMPLE, "targetRegion": region, "subscriptionId": _ZERO_SUBSCRIPTION}
    )


class Match(_Model):
    """Which source collections a policy covers: the union of `collectionIds` and the
    subscription/resource group scope, narrowed by `tags` when given."""

    subscription_id: StrictStr | None = None
    resource_group: ResourceGroupName | None = None
    collection_ids: tuple[ParsedCollectionId, ...] | None = None
    tags: dict[str, StrictStr] | None = None

    @field_validator("subscription_id")
    @classmethod
    def _subscription(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            # Reuse the strict id parser (GUID only) rather than a second GUID pattern.
            if "/" in value:
                raise InvalidResourceId(value)
            ResourceGroupId.parse(f"/subscriptions/{value}/resourceGroups/rg")
        except InvalidResourceId:
            raise _fail(
                f"{value!r} is not a subscription id (a GUID such as "
                "'00000000-0000-0000-0000-000000000000')"
            ) from None
        return value

    @field_validator("collection_ids")
    @classmethod
    def _ids_not_empty(cls, value: tuple[CollectionId, ...] | None) -> Any:
        if value is not None and not value:
            raise _fail("must list at least one collection id (or leave collectionIds out)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        lowered: dict[str, str] = {}
        for name, tag_value in value.items():
            if not name.strip():
                raise _fail("tag names must not be empty")
            # Azure tag names are case-insensitive, so "Env" and "env" are the same tag.
            if name.lower() in lowered:
                raise _fail(f"tag {name!r} is listed twice (tag names are case-insensitive)", name)
            lowered[name.lower()] = tag_value
        return lowered

    @model_validator(mode="after")
    def _criteria(self) -> Match:
        if self.resource_group is not None and self.subscription_id is None:
            raise _fail(
                "needs subscriptionId: a resource group name is only unique within a subscription",
                "resourceGroup",
            )
        if self.collection_ids is None and self.subscription_id is None:
            raise _fail(
                "names no collectionIds, subscriptionId or resourceGroup; a policy must say which "
                "collections it covers (tags only narrow a match, they never widen it to "
                "everything the app can see)"
            )
        return self

    def specificity(self, collection: CollectionId, tags: Mapping[str, str]) -> Specificity | None:
        """How this match covers `collection` (the most specific way), or None.

        `tags` must have lower-case names.
        """
        if self.tags and any(tags.get(name) != value for name, value in self.tags.items()):
            return None
        if self.collection_ids and any(cid.same_as(collection) for cid in self.collection_ids):
            return Specificity.COLLECTION_ID
        subscription = self.subscription_id
        if subscription and subscription.lower() == collection.subscription_id.lower():
            if self.resource_group is None:
                return Specificity.SUBSCRIPTION
            # Resource group names are case-insensitive in ARM.
            if self.resource_group.lower() == collection.resource_group.lower():
                return Specificity.RESOURCE_GROUP
        return None


class Policy(_Model):
    name: StrictStr
    description: StrictStr | None = None
    match: Match
    targets: tuple[Target, ...]
    # Scheduled restore point creation (shared/policies/schedules.py).
    create: CreateSpec | None = None
    drill: DrillPolicy | None = None  # restore drills of this policy's pairs

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _POLICY_NAME.fullmatch(value):
            raise _fail(
                f"{value!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit"
            )
        return value

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: tuple[Target, ...]) -> tuple[Target, ...]:
        if not value:
            raise _fail("must list at least one target; a policy without targets protects nothing")
        return value

    @model_validator(mode="after")
    def _distinct_target_collections(self) -> Policy:
        # Two regions cannot share a collection name in one resource group (names are unique per
        # resource group, whatever the region), e.g. a template without {targetRegion}.
        seen: dict[tuple[str, str], int] = {}
        regions: set[str] = set()
        for index, target in enumerate(self.targets):
            if target.region in regions:
                continue  # a duplicate region is reported on its own (see _cross_checks)
            regions.add(target.region)
            group = f"{target.subscription_id or ''}/{target.resource_group or ''}".lower()
            key = (group, _sample_name(target.collection_name, target.region).lower())
            if key in seen:
                raise _fail(
                    f"targets[{seen[key]}] and targets[{index}] would create the same collection "
                    "name in the same resource group; add {targetRegion} to collectionName or use "
                    "different resource groups",
                    "targets",
                )
            seen[key] = index
        return self


class PolicyFile(_Model):
    version: Annotated[int, Strict()]
    policies: tuple[Policy, ...]

    @field_validator("version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != SUPPORTED_VERSION:
            raise _fail(f"unsupported version {value}; this app reads version {SUPPORTED_VERSION}")
        return value
