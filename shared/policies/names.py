"""Collection name templates: their placeholders, their checks and their rendering."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from shared.errors import InvalidResourceId
from shared.model.ids import MAX_RESOURCE_NAME, CollectionId, validate_resource_name

PLACEHOLDERS = (
    "sourceCollection",
    "sourceResourceGroup",
    "sourceRegion",
    "targetRegion",
    "subscriptionId",
)

# Same shape as shared.jobs.intake.default_collection_name, so a manual copy and a policy copy
# of the same source land in the same target collection.
DEFAULT_COLLECTION_TEMPLATE = "{sourceCollection}-{targetRegion}"

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


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
    return render_template(
        template,
        {
            "sourceCollection": source.name,
            "sourceResourceGroup": source.resource_group,
            "sourceRegion": source_region,
            "targetRegion": target_region,
            "subscriptionId": source.subscription_id,
        },
    )


def render_template(template: str, values: Mapping[str, str]) -> str:
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
        excess = len(name) - MAX_RESOURCE_NAME
        occurrences = template.count(f"{{{key}}}")
        if excess <= 0 or not occurrences:
            continue
        keep = len(values[key]) - math.ceil(excess / occurrences)
        values[key] = values[key][: max(keep, 1)]
        name = fill()
    return validate_resource_name(name, "collection name")
