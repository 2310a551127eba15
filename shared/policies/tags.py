"""Tag policies: `rpcopy-*` tags on a source collection, parsed leniently."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import (
    ValidationError,
)

from shared.errors import InvalidResourceId
from shared.model.ids import validate_resource_group_name
from shared.model.regions import known_regions
from shared.policies.model import Target, known_region

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
            region = known_region(region_part, regions)
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
