"""Copy policies: which source restore point collections are protected and where copies go.

Two sources, one model:

- a JSON policy file (path in the POLICY_FILE setting), validated as a whole at startup: every
  problem is reported with file, line, column and field path, and the app never runs on half a
  policy (`load_policy_file` returns the complete set or raises `PolicyError`);
- ``rpcopy-*`` tags on a source collection (opt-in by the collection's owner), parsed leniently:
  a bad tag value is reported, never raised, because one owner's typo must not stop the sweep.

Matching is pure: `PolicySet.resolve` turns a collection (id, region, tags) into the targets it
must be copied to. The format and the precedence rule are documented in docs/policies.md.
"""

from __future__ import annotations

import json
import math
import os
import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from shared.model.ids import (
    CollectionId,
    InvalidResourceId,
    ResourceGroupId,
    normalize_region,
    validate_resource_group_name,
    validate_resource_name,
)
from shared.model.regions import known_regions

SUPPORTED_VERSION = 1
# ARM's limit for restore point collection names (the same limit shared.jobs.intake trims to).
MAX_COLLECTION_NAME = 80
PLACEHOLDERS = (
    "sourceCollection",
    "sourceResourceGroup",
    "sourceRegion",
    "targetRegion",
    "subscriptionId",
)
# Same shape as shared.jobs.intake.default_collection_name, so a manual copy and a policy
# copy of the
# same source land in the same target collection.
DEFAULT_COLLECTION_TEMPLATE = "{sourceCollection}-{targetRegion}"

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
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

Path_ = tuple[str | int, ...]


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


class PolicyError(ValueError):
    """The policy file is refused; `problems` lists everything wrong, in file order."""

    def __init__(self, source_name: str, problems: Iterable[PolicyProblem]) -> None:
        self.source_name = source_name
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(
            f"policy file {source_name} refused ({count} problem{'s' if count != 1 else ''}); "
            f"the app does not run on a partial policy:\n{lines}"
        )


def _fail(message: str, field_hint: str | None = None) -> PydanticCustomError:
    # `field` lets a model-level check point at the field it is about rather than the object.
    return PydanticCustomError("policy", "{message}", {"message": message, "field": field_hint})


def _regions_from(info: ValidationInfo) -> frozenset[str]:
    context = info.context or {}
    return known_regions(context.get("extra_regions", frozenset()))


def _known_region(value: object, regions: frozenset[str], what: str = "region") -> str:
    """Normalized region, or InvalidResourceId naming the problem."""
    region = normalize_region(value, what)
    if region not in regions:
        raise InvalidResourceId(
            f"{region!r} is not a known Azure region (add it to EXTRA_REGIONS if it is new)"
        )
    return region


# --------------------------------------------------------------------------------------------
# Collection name templates


def template_problems(template: str) -> list[str]:
    """What is wrong with a collection name template's syntax (empty list = fine)."""
    if not template:
        return ["must not be empty"]
    problems: list[str] = []
    if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        problems.append("has a '{' or '}' that is not part of a {placeholder}")
    allowed = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    for name in _PLACEHOLDER.findall(template):
        if name not in PLACEHOLDERS:
            problems.append(f"unknown placeholder {{{name}}}; use {allowed}")
    if "{sourceCollection}" not in template:
        # Azure allows one source collection per target collection, and a template is shared by
        # every collection the policy matches: without the source name they would all collide.
        problems.append(
            "must contain {sourceCollection}: every matched source needs its own target collection"
        )
    return problems


def render_collection_name(
    template: str,
    *,
    source: CollectionId,
    source_region: str,
    target_region: str,
) -> str:
    """The target collection name for `source`; raises InvalidResourceId if it is not valid.

    Names longer than 80 characters are trimmed like shared.jobs.intake.default_collection_name:
    the source collection name (then the source resource group) is shortened so the literal text
    and the region suffix survive.
    """
    return _render(
        template,
        {
            "sourceCollection": source.name,
            "sourceResourceGroup": source.resource_group,
            "sourceRegion": source_region,
            "targetRegion": target_region,
            "subscriptionId": source.subscription_id,
        },
    )


def _render(template: str, values: Mapping[str, str]) -> str:
    values = dict(values)
    unknown = [name for name in _PLACEHOLDER.findall(template) if name not in values]
    if unknown:
        raise InvalidResourceId(
            f"collection name template has unknown placeholder {{{unknown[0]}}}"
        )

    def fill() -> str:
        return _PLACEHOLDER.sub(lambda m: values[m[1]], template)

    name = fill()
    for key in ("sourceCollection", "sourceResourceGroup"):
        excess = len(name) - MAX_COLLECTION_NAME
        occurrences = template.count(f"{{{key}}}")
        if excess <= 0 or not occurrences:
            continue
        keep = len(values[key]) - math.ceil(excess / occurrences)
        values[key] = values[key][: max(keep, 1)]
        name = fill()
    return validate_resource_name(name, "collection name")


# --------------------------------------------------------------------------------------------
# The policy file model


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
    resource_group: StrictStr | None = None
    collection_name: StrictStr = DEFAULT_COLLECTION_TEMPLATE
    retention: Retention | None = None
    rpo_minutes: PositiveInt | None = None

    @field_validator("region")
    @classmethod
    def _region(cls, value: str, info: ValidationInfo) -> str:
        try:
            return _known_region(value, _regions_from(info))
        except InvalidResourceId as exc:
            raise _fail(str(exc)) from None

    @field_validator("resource_group")
    @classmethod
    def _resource_group(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                validate_resource_group_name(value)
            except InvalidResourceId as exc:
                raise _fail(str(exc)) from None
        return value

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
                _render(
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
        if self.resource_group is None and sample_name == _SAMPLE["sourceCollection"]:
            raise _fail(
                "renders the source collection's own name and no resourceGroup is set: the "
                "target would collide with the source in its resource group",
                "collectionName",
            )
        return self


def _sample_name(template: str, region: str) -> str:
    return _render(
        template, {**_SAMPLE, "targetRegion": region, "subscriptionId": _ZERO_SUBSCRIPTION}
    )


class Match(_Model):
    """Which source collections a policy covers: the union of `collectionIds` and the
    subscription/resource group scope, narrowed by `tags` when given."""

    subscription_id: StrictStr | None = None
    resource_group: StrictStr | None = None
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

    @field_validator("resource_group")
    @classmethod
    def _resource_group(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                validate_resource_group_name(value)
            except InvalidResourceId as exc:
                raise _fail(str(exc)) from None
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
            group = (target.resource_group or "").lower()
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


# --------------------------------------------------------------------------------------------
# Tag policies


@dataclass(frozen=True)
class TagNames:
    """Names of the opt-in tags on a source collection (from settings; case-insensitive)."""

    targets: str = "rpcopy-targets"
    keep_last: str = "rpcopy-keep-last"
    max_age_days: str = "rpcopy-max-age-days"
    rpo_minutes: str = "rpcopy-rpo-minutes"
    target_resource_group: str = "rpcopy-target-resource-group"


_TAG_SEPARATORS = re.compile(r"[,;\s]+")
_WHOLE = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?|\.[0-9]+")


def targets_from_tags(
    tags: Mapping[str, str],
    *,
    tag_names: TagNames = TagNames(),
    extra_regions: frozenset[str] = frozenset(),
) -> tuple[list[Target], list[str]]:
    """Targets a collection asks for with its own tags, and human-readable problems.

    Never raises: the caller logs the problems and shows them in the status API. A bad region
    entry drops only that region; a bad retention or RPO value is ignored (keeping more copies
    is the safe side); a bad default resource group drops the targets that would use it.
    """
    by_name = {str(name).lower(): (str(name), value) for name, value in tags.items()}
    problems: list[str] = []

    def tag(name: str) -> tuple[str, str] | None:
        found = by_name.get(name.lower())
        if found is None:
            return None
        actual, value = found
        if not isinstance(value, str):
            problems.append(f"tag {actual}: value must be text; ignored")
            return None
        return actual, value.strip()

    targets_tag = tag(tag_names.targets)
    if targets_tag is None:
        for other in (
            tag_names.keep_last,
            tag_names.max_age_days,
            tag_names.rpo_minutes,
            tag_names.target_resource_group,
        ):
            found = tag(other)
            if found is not None:
                problems.append(
                    f"tag {found[0]} is set but {tag_names.targets} is not; it has no effect"
                )
        return [], problems

    def number(name: str, pattern: re.Pattern[str], what: str) -> float | None:
        found = tag(name)
        if found is None:
            return None
        actual, raw = found
        if pattern.fullmatch(raw) and float(raw) > 0:
            return float(raw)
        problems.append(f"tag {actual}={raw!r}: must be {what}; ignored")
        return None

    keep_last = number(tag_names.keep_last, _WHOLE, "a whole number of at least 1")
    max_age_days = number(tag_names.max_age_days, _DECIMAL, "a number of days greater than 0")
    rpo = number(tag_names.rpo_minutes, _WHOLE, "a whole number of minutes of at least 1")

    default_group: str | None = None
    default_group_bad = False
    found_group = tag(tag_names.target_resource_group)
    if found_group is not None:
        try:
            default_group = validate_resource_group_name(found_group[1])
        except InvalidResourceId as exc:
            problems.append(f"tag {found_group[0]}={found_group[1]!r}: {exc}")
            default_group_bad = True

    actual_name, raw_targets = targets_tag
    prefix = f"tag {actual_name}={raw_targets!r}"
    entries = [entry for entry in _TAG_SEPARATORS.split(raw_targets) if entry]
    if not entries:
        problems.append(f"{prefix}: lists no regions")
    regions = known_regions(extra_regions)
    retention = (
        {"keepLast": int(keep_last) if keep_last else None, "maxAgeDays": max_age_days}
        if keep_last or max_age_days
        else None
    )
    targets: list[Target] = []
    seen: set[str] = set()
    for entry in entries:
        region_part, colon, group_part = entry.partition(":")
        try:
            region = _known_region(region_part, regions)
        except InvalidResourceId as exc:
            problems.append(f"{prefix}: {exc}; {entry!r} skipped")
            continue
        if region in seen:
            problems.append(f"{prefix}: {region!r} is listed twice; the first entry is used")
            continue
        seen.add(region)
        if colon:
            try:
                group: str | None = validate_resource_group_name(group_part)
            except InvalidResourceId as exc:
                problems.append(f"{prefix}: {exc}; {entry!r} skipped")
                continue
        elif default_group_bad:
            problems.append(f"{prefix}: {region!r} skipped: its resource group tag is invalid")
            continue
        else:
            group = default_group
        raw_target = {
            "region": region,
            "resourceGroup": group,
            "retention": retention,
            "rpoMinutes": int(rpo) if rpo else None,
        }
        try:
            targets.append(
                Target.model_validate(raw_target, context={"extra_regions": extra_regions})
            )
        except ValidationError as exc:  # pragma: no cover - every field was checked above
            problems.append(f"{prefix}: {entry!r} skipped: {exc.errors()[0]['msg']}")
    return targets, problems


# --------------------------------------------------------------------------------------------
# Matching


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


@dataclass(frozen=True)
class CollectionInfo:
    """What matching needs to know about a source collection (from ARM)."""

    id: CollectionId
    region: str
    tags: Mapping[str, str] = field(default_factory=dict)
    # True when properties.source.id names another collection: a cross-region copy target,
    # which is never a source (Azure refuses copy-of-copy).
    is_copy_target: bool = False


@dataclass(frozen=True)
class ResolvedTarget:
    """One copy destination for one source collection, with everything rendered."""

    policy_name: str  # the file policy's name, or "tag:<collection name>"
    matched_by: str  # collectionIds | collectionTags | resourceGroup | subscriptionId
    region: str
    resource_group: str
    collection_name: str
    collection_id: CollectionId
    keep_last: int | None
    max_age_days: float | None
    rpo_minutes: int | None


@dataclass(frozen=True)
class Resolution:
    targets: tuple[ResolvedTarget, ...]
    # Human-readable: dropped targets and bad tags. The caller logs them and shows them in the
    # status API; they never stop the other targets.
    problems: tuple[str, ...]


@dataclass(frozen=True)
class _Candidate:
    specificity: Specificity
    order: int  # position of the policy in the file; breaks ties between equal specificity
    policy_name: str
    target: Target


@dataclass(frozen=True)
class PolicySet:
    """The complete, validated policies of one file, plus how to read collection tags."""

    policies: tuple[Policy, ...] = ()
    extra_regions: frozenset[str] = frozenset()
    tag_names: TagNames = TagNames()

    @classmethod
    def empty(
        cls,
        *,
        extra_regions: frozenset[str] = frozenset(),
        tag_names: TagNames = TagNames(),
    ) -> PolicySet:
        """No policy file: only collections that opt in with tags are protected."""
        return cls((), extra_regions, tag_names)

    @property
    def is_empty(self) -> bool:
        """True when the file defines no policies (tag policies still apply)."""
        return not self.policies

    def subscriptions(self) -> tuple[str, ...]:
        """Subscriptions the file's policies reach (lower case, sorted): where the sweep lists."""
        found: set[str] = set()
        for policy in self.policies:
            if policy.match.subscription_id:
                found.add(policy.match.subscription_id.lower())
            for cid in policy.match.collection_ids or ():
                found.add(cid.subscription_id.lower())
        return tuple(sorted(found))

    def targets_for(self, collection: CollectionInfo) -> list[ResolvedTarget]:
        return list(self.resolve(collection).targets)

    def resolve(self, collection: CollectionInfo) -> Resolution:
        """Targets for `collection`, one per region, and what was dropped and why."""
        if collection.is_copy_target:
            return Resolution((), ())
        lowered_tags = {str(name).lower(): value for name, value in collection.tags.items()}
        candidates: dict[str, list[_Candidate]] = {}
        for order, policy in enumerate(self.policies):
            specificity = policy.match.specificity(collection.id, lowered_tags)
            if specificity is None:
                continue
            for target in policy.targets:
                candidates.setdefault(target.region, []).append(
                    _Candidate(specificity, order, policy.name, target)
                )
        tag_targets, tag_problems = targets_from_tags(
            collection.tags, tag_names=self.tag_names, extra_regions=self.extra_regions
        )
        problems = list(tag_problems)
        tag_policy = f"tag:{collection.id.name}"
        for target in tag_targets:
            candidates.setdefault(target.region, []).append(
                _Candidate(Specificity.COLLECTION_TAGS, -1, tag_policy, target)
            )

        source_region = collection.region.replace(" ", "").lower()  # "East US" = "eastus"
        resolved: list[ResolvedTarget] = []
        taken: dict[tuple[str, str], str] = {
            (collection.id.resource_group.lower(), collection.id.name.lower()): "the source"
        }
        for region in sorted(candidates):
            best = min(candidates[region], key=lambda c: (-c.specificity, c.order))
            who = f"policy {best.policy_name!r}"
            if region == source_region:
                problems.append(
                    f"{who}: target region {region!r} is the collection's own region; skipped "
                    "(Azure copies restore points only to another region)"
                )
                continue
            target = best.target
            group = target.resource_group or collection.id.resource_group
            try:
                name = render_collection_name(
                    target.collection_name,
                    source=collection.id,
                    source_region=source_region,
                    target_region=region,
                )
            except InvalidResourceId as exc:
                problems.append(f"{who}: target region {region!r} skipped: {exc}")
                continue
            key = (group.lower(), name.lower())
            if key in taken:
                problems.append(
                    f"{who}: target region {region!r} skipped: collection {name!r} in resource "
                    f"group {group!r} is already {taken[key]}"
                )
                continue
            taken[key] = f"the target for region {region!r}"
            retention = target.retention
            resolved.append(
                ResolvedTarget(
                    policy_name=best.policy_name,
                    matched_by=best.specificity.label,
                    region=region,
                    resource_group=group,
                    collection_name=name,
                    collection_id=CollectionId.build(collection.id.subscription_id, group, name),
                    keep_last=retention.keep_last if retention else None,
                    max_age_days=retention.max_age_days if retention else None,
                    rpo_minutes=target.rpo_minutes,
                )
            )
        return Resolution(tuple(resolved), tuple(problems))


# --------------------------------------------------------------------------------------------
# Loading: JSON with positions, pydantic validation, errors mapped back to line and column


def load_policy_file(
    path: str | os.PathLike[str],
    *,
    extra_regions: frozenset[str] = frozenset(),
    tag_names: TagNames = TagNames(),
) -> PolicySet:
    """Read and validate the whole file: the complete PolicySet, or PolicyError."""
    source_name = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        problem = f"cannot read the policy file: {exc.strerror or exc}"
        raise PolicyError(
            source_name, [PolicyProblem(source_name, None, None, None, problem)]
        ) from None
    try:
        # utf-8-sig: editors on Windows like to prepend a byte order mark.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"is not UTF-8 text (bad byte at offset {exc.start})"
        raise PolicyError(
            source_name, [PolicyProblem(source_name, None, None, None, problem)]
        ) from None
    return parse_policy_text(
        text, source_name=source_name, extra_regions=extra_regions, tag_names=tag_names
    )


def parse_policy_text(
    text: str,
    *,
    source_name: str,
    extra_regions: frozenset[str] = frozenset(),
    tag_names: TagNames = TagNames(),
) -> PolicySet:
    """Validate a policy file's text; `source_name` (the file's path) prefixes every problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = PolicyProblem(
            source_name, exc.lineno, exc.colno, None, f"invalid JSON: {exc.msg}"
        )
        raise PolicyError(source_name, [problem]) from None
    except RecursionError:
        problem = PolicyProblem(source_name, None, None, None, "invalid JSON: nested too deeply")
        raise PolicyError(source_name, [problem]) from None

    try:
        located = _Locator(text)
    except RecursionError:  # json.loads managed; the walk adds a few frames per level
        problem = PolicyProblem(source_name, None, None, None, "invalid JSON: nested too deeply")
        raise PolicyError(source_name, [problem]) from None
    problems: list[tuple[int, PolicyProblem]] = []

    def add(offset: int, path: Path_, message: str) -> None:
        line, column = _line_column(text, offset)
        problems.append(
            (offset, PolicyProblem(source_name, line, column, _format_path(path), message))
        )

    for path in located.duplicate_keys:
        add(located.keys[path][-1], path, "duplicate key; JSON keeps only the last one")
    for path in located.non_finite:
        add(located.value_at(path), path, "NaN and Infinity are not valid JSON numbers")

    model: PolicyFile | None = None
    try:
        model = PolicyFile.model_validate(data, context={"extra_regions": extra_regions})
    except ValidationError as exc:
        for error in exc.errors():
            path, offset, message = _explain(error, located)
            add(offset, path, message)
    for offset_path, message in _cross_checks(data):
        add(located.value_at(offset_path), offset_path, message)

    if problems or model is None:
        problems.sort(key=lambda item: (item[0], item[1].path or ""))
        unique = list(dict.fromkeys(problem for _, problem in problems))
        raise PolicyError(source_name, unique)
    return PolicySet(model.policies, extra_regions, tag_names)


def _cross_checks(data: object) -> list[tuple[Path_, str]]:
    """Checks across list items, run on the raw data so they are reported even when another
    part of the file fails validation."""
    found: list[tuple[Path_, str]] = []
    policies = data.get("policies") if isinstance(data, dict) else None
    if not isinstance(policies, list):
        return found
    names: dict[str, int] = {}
    for index, policy in enumerate(policies):
        if not isinstance(policy, dict):
            continue
        name = policy.get("name")
        if isinstance(name, str):
            if name.lower() in names:
                found.append(
                    (
                        ("policies", index, "name"),
                        f"duplicate policy name {name!r} (also policies[{names[name.lower()]}]"
                        ".name; names are case-insensitive)",
                    )
                )
            else:
                names[name.lower()] = index
        targets = policy.get("targets")
        regions: dict[str, int] = {}
        for t_index, target in enumerate(targets if isinstance(targets, list) else []):
            region = target.get("region") if isinstance(target, dict) else None
            if not isinstance(region, str):
                continue
            key = region.strip().lower()
            if key in regions:
                found.append(
                    (
                        ("policies", index, "targets", t_index, "region"),
                        f"duplicate target region {key!r} (also targets[{regions[key]}]); "
                        "a policy copies to each region once",
                    )
                )
            else:
                regions[key] = t_index
        match = policy.get("match")
        ids = match.get("collectionIds") if isinstance(match, dict) else None
        seen_ids: dict[str, int] = {}
        for i_index, cid in enumerate(ids if isinstance(ids, list) else []):
            if not isinstance(cid, str):
                continue
            key = cid.rstrip("/").lower()  # ARM ids are case-insensitive
            if key in seen_ids:
                found.append(
                    (
                        ("policies", index, "match", "collectionIds", i_index),
                        f"duplicate collection id (also collectionIds[{seen_ids[key]}])",
                    )
                )
            else:
                seen_ids[key] = i_index
    return found


_TYPE_NAMES = {
    "int_type": "a whole number",
    "float_type": "a number",
    "string_type": "a string",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _explain(error: Mapping[str, Any], located: _Locator) -> tuple[Path_, int, str]:
    """A pydantic error as (field path, offset in the text, message for a person)."""
    loc: Path_ = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "policy":
        if ctx.get("field"):
            loc = (*loc, ctx["field"])
        return loc, located.value_at(loc), str(ctx["message"])
    if kind == "missing":
        return loc, located.value_at(loc), "required field is missing"
    if kind == "extra_forbidden":
        allowed = ", ".join(_allowed_fields(loc[:-1]))
        return loc, located.key_at(loc), f"unknown field (allowed here: {allowed})"
    if kind in _TYPE_NAMES:
        message = f"must be {_TYPE_NAMES[kind]}, not {_describe_json(value)}"
    elif kind == "greater_than_equal":
        message = f"must be at least {ctx['ge']:g}, not {_describe_json(value)}"
    elif kind == "greater_than":
        message = f"must be greater than {ctx['gt']:g}, not {_describe_json(value)}"
    elif kind == "finite_number":
        message = "must be a finite number"
    else:  # pragma: no cover - every constraint the models use is listed above
        message = str(error["msg"])
    return loc, located.value_at(loc), message


def _describe_json(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list):
        return "a list"
    return "an object"


def _allowed_fields(loc: Path_) -> list[str]:
    """camelCase field names of the model at `loc` (for 'unknown field' messages)."""
    current: Any = PolicyFile
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = get_args(current)
            current = args[0] if args else Any
        elif isinstance(current, type) and issubclass(current, BaseModel):
            by_alias = {info.alias or name: info for name, info in current.model_fields.items()}
            current = by_alias[part].annotation if part in by_alias else Any
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip `X | None` and Annotated[...] down to X."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or isinstance(annotation, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            annotation = members[0]
        else:
            return annotation


def _format_path(path: Path_) -> str:
    if not path:
        return "(top level)"
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _line_column(text: str, offset: int) -> tuple[int, int]:
    # Same convention as json.JSONDecodeError: 1-based line and character column.
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)
    return line, column


class _Locator:
    """Start offset of every value (and object key) in a JSON text, by path.

    json.loads has already accepted the text, so this walk can assume it is well formed; it
    only records where things are, using the json module's own scanners for strings/scalars.
    """

    _WHITESPACE = " \t\n\r"

    def __init__(self, text: str) -> None:
        self._text = text
        self._decoder = json.JSONDecoder()
        self.values: dict[Path_, int] = {}
        self.keys: dict[Path_, list[int]] = {}
        self.duplicate_keys: list[Path_] = []
        self.non_finite: list[Path_] = []
        self._walk(0, ())

    def value_at(self, path: Path_) -> int:
        """Offset of the value at `path`, or of its nearest ancestor that exists in the file
        (a missing field points at the object that lacks it)."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return 0

    def key_at(self, path: Path_) -> int:
        offsets = self.keys.get(path)
        return offsets[0] if offsets else self.value_at(path)

    def _skip(self, index: int) -> int:
        while index < len(self._text) and self._text[index] in self._WHITESPACE:
            index += 1
        return index

    def _walk(self, index: int, path: Path_) -> int:
        text = self._text
        index = self._skip(index)
        self.values[path] = index
        if text[index] == "{":
            index = self._skip(index + 1)
            if text[index] == "}":
                return index + 1
            while True:
                index = self._skip(index)
                key_start = index
                key, index = json.decoder.scanstring(text, index + 1)
                child = (*path, key)
                self.keys.setdefault(child, []).append(key_start)
                if len(self.keys[child]) == 2:
                    self.duplicate_keys.append(child)
                index = self._skip(index) + 1  # past ':'
                index = self._skip(self._walk(index, child))
                if text[index] == "}":
                    return index + 1
                index += 1  # past ','
        if text[index] == "[":
            index = self._skip(index + 1)
            if text[index] == "]":
                return index + 1
            position = 0
            while True:
                index = self._skip(self._walk(index, (*path, position)))
                position += 1
                if text[index] == "]":
                    return index + 1
                index += 1  # past ','
        value, end = self._decoder.raw_decode(text, index)
        if isinstance(value, float) and not math.isfinite(value):
            self.non_finite.append(path)
        return end
