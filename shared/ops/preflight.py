"""Preflight: can this deployment do its job? Checked for the identity the app runs as.

Each check passes or fails with what to do about it:
- the identity gets an ARM token;
- it holds each action the pipeline needs on every protected source scope (reads) and every
  target scope (the collections and copies it creates and prunes), read from
  `{scope}/providers/Microsoft.Authorization/permissions`;
- every target resource group named by the policies exists;
- every policy region is a known region;
- the storage queues and tables are reachable.

Scopes come from the policy file (subscriptions, resource groups, collections it matches, and
the target resource groups it names) and SWEEP_SUBSCRIPTIONS (tag policies). A target resource
group left to default is the source's own group, so its scope is the source scope.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from shared.arm import bodies
from shared.arm.operations import (
    CREATE_OPERATIONS,
    SOURCE_OPERATIONS,
    TARGET_OPERATIONS,
    ArmOperation,
    actions_for,
)
from shared.errors import ArmError
from shared.model.ids import ResourceGroupId
from shared.model.regions import known_regions
from shared.rules.permissions import Permission, missing
from shared.services import Services

AUTHORIZATION_API_VERSION = "2022-04-01"
RESOURCES_API_VERSION = "2021-04-01"
# Disk encryption sets are served by the Disk RP's api-versions (diskrp spec).
DISK_API_VERSION = "2025-01-02"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    scope: str | None = None
    # What to do when it failed.
    fix: str | None = None

    def to_api(self) -> dict[str, Any]:
        body = {
            "name": self.name,
            "status": "pass" if self.passed else "fail",
            "scope": self.scope,
            "detail": self.detail,
            "fix": self.fix,
        }
        return {k: v for k, v in body.items() if v is not None}


@dataclass(frozen=True)
class Scopes:
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    target_groups: tuple[ResourceGroupId, ...]
    # Source scopes of policies with a `create` section (scheduled restore point creation).
    creation_sources: tuple[str, ...] = ()


def scopes(services: Services) -> Scopes:
    """The ARM scopes the policies reach, as sources and as targets."""
    sources: set[str] = {f"/subscriptions/{s}" for s in services.settings.sweep_subscriptions}
    targets: set[str] = set()
    groups: dict[str, ResourceGroupId] = {}
    creation: set[str] = set()
    for policy in services.policies.policies:
        match = policy.match
        subscriptions: set[str] = set()
        source_groups: list[str] = []
        for cid in match.collection_ids or ():
            subscriptions.add(cid.subscription_id)
            source_groups.append(str(cid.resource_group_id))
        if match.subscription_id:
            subscriptions.add(match.subscription_id)
            if match.resource_group:
                source_groups.append(
                    str(ResourceGroupId(match.subscription_id, match.resource_group))
                )
            elif not match.collection_ids:
                sources.add(f"/subscriptions/{match.subscription_id}")
        sources.update(source_groups)
        if policy.create is not None:
            creation.update(source_groups)
            if match.subscription_id and not match.resource_group and not match.collection_ids:
                creation.add(f"/subscriptions/{match.subscription_id}")
        for target in policy.targets:
            if target.subscription_id is not None:
                # A target in another subscription: its resource group there (the source's
                # group name when none is given).
                names = [target.resource_group] if target.resource_group else []
                if not names:
                    names = [ResourceGroupId.parse(g).resource_group for g in source_groups]
                for name in names:
                    group = ResourceGroupId(target.subscription_id, name)
                    groups[group.normalized] = group
                    targets.add(str(group))
                if not names:
                    targets.add(f"/subscriptions/{target.subscription_id}")
                continue
            if target.resource_group is None:
                targets.update(source_groups or [f"/subscriptions/{s}" for s in subscriptions])
                continue
            for subscription in subscriptions:
                group = ResourceGroupId(subscription, target.resource_group)
                groups[group.normalized] = group
                targets.add(str(group))
        # Restore drills create disks in their own resource group: it must exist, and the
        # identity needs the target actions there (the app never creates resource groups).
        if policy.drill is not None and policy.drill.resource_group:
            for subscription in subscriptions:
                group = ResourceGroupId(subscription, policy.drill.resource_group)
                groups[group.normalized] = group
                targets.add(str(group))
    return Scopes(
        tuple(sorted(sources, key=str.lower)),
        tuple(sorted(targets, key=str.lower)),
        tuple(groups[k] for k in sorted(groups)),
        tuple(sorted(creation, key=str.lower)),
    )


def permissions_from(body: Any) -> list[Permission]:
    """The `value` of a permissions answer; entries of the wrong shape count as nothing."""
    value = body.get("value") if isinstance(body, dict) else None

    def strings(items: Any) -> tuple[str, ...]:
        return tuple(a for a in items if isinstance(a, str)) if isinstance(items, list) else ()

    found: list[Permission] = []
    for entry in value if isinstance(value, list) else []:
        if not isinstance(entry, dict):
            continue
        found.append(Permission(strings(entry.get("actions")), strings(entry.get("notActions"))))
    return found


async def _token(services: Services) -> Check:
    try:
        await services.arm.token()
    except Exception as exc:  # any credential failure is the finding itself
        return Check(
            "token",
            False,
            f"no ARM token for {services.settings.arm.endpoint}: {type(exc).__name__}",
            fix="check the managed identity (ARM_MANAGED_IDENTITY_CLIENT_ID) is assigned to the "
            "function app, or `az login` when running locally",
        )
    return Check("token", True, f"the identity gets a token for {services.settings.arm.endpoint}")


async def _permissions(services: Services, scope: str, role: str, needed: list[str]) -> Check:
    name = f"permissions ({role})"
    try:
        body = await services.arm.get(
            f"{scope}/providers/Microsoft.Authorization/permissions",
            operation=ArmOperation.PERMISSIONS_LIST,
            api_version=AUTHORIZATION_API_VERSION,
        )
    except ArmError as exc:
        return Check(
            name,
            False,
            f"could not read the identity's permissions: {exc}",
            scope,
            fix="assign the rpcopy role (infra/rbac) on this scope; it includes "
            "Microsoft.Authorization/permissions/read",
        )
    lacking = missing(permissions_from(body), needed)
    if lacking:
        return Check(
            name,
            False,
            f"missing {len(lacking)} of {len(needed)} actions: {', '.join(lacking)}",
            scope,
            fix="assign the rpcopy role on this scope (azd up does it for the scopes given as "
            "parameters), or add the missing actions to the identity's role",
        )
    return Check(name, True, f"all {len(needed)} needed actions are allowed", scope)


async def _group_exists(services: Services, group: ResourceGroupId) -> Check:
    try:
        body = await services.arm.get_or_none(
            str(group),
            operation=ArmOperation.RESOURCE_GROUPS_GET,
            api_version=RESOURCES_API_VERSION,
        )
    except ArmError as exc:
        return Check("target resource group", False, f"could not read it: {exc}", str(group))
    if body is None:
        return Check(
            "target resource group",
            False,
            "does not exist (or the identity cannot see it)",
            str(group),
            fix="create the resource group in the target subscription, or fix the policy's "
            "targets[].resourceGroup",
        )
    return Check("target resource group", True, "exists", str(group))


def _regions(services: Services) -> Check:
    known = known_regions(services.settings.extra_regions)
    used = {t.region for p in services.policies.policies for t in p.targets}
    unknown = sorted(used - known)
    if unknown:
        return Check(
            "policy regions",
            False,
            f"unknown region(s): {', '.join(unknown)}",
            fix="correct the region names, or add new regions to EXTRA_REGIONS",
        )
    return Check("policy regions", True, f"{len(used)} target region(s), all known")


async def _storage(services: Services) -> Check:
    queues = services.settings.queues
    try:
        for name in (*queues.stages(), queues.events):
            await services.queues.ensure(name)
        await services.ledger.ensure_table()
        await services.ledger.get("0" * 32)  # a read, not only a create-if-missing
        await services.pairs.ensure_table()
    except Exception as exc:  # unreachable storage is the finding itself
        return Check(
            "storage",
            False,
            f"queues or tables are not reachable: {type(exc).__name__}",
            fix="check AzureWebJobsStorage__queueServiceUri/__tableServiceUri and that the "
            "identity holds Storage Queue Data Contributor and Storage Table Data Contributor",
        )
    return Check("storage", True, "queues and tables are reachable")


# A disk encryption set encrypts disks in its own region only: Azure would refuse every copy
# naming a set from another region (the job fails with ARM's reason); say so before the first.
async def encryption_set_checks(services: Services) -> list[Check]:
    """One check per (disk encryption set, target region) the policies name."""
    wanted: dict[tuple[str, str], str] = {}
    for policy in services.policies.policies:
        for target in policy.targets:
            if target.disk_encryption_set_id:
                wanted[(target.disk_encryption_set_id.lower(), target.region)] = (
                    target.disk_encryption_set_id
                )
    return [await _check(services, des, region) for (_, region), des in sorted(wanted.items())]


async def _check(services: Services, des: str, region: str) -> Check:
    name = "disk encryption set"
    # Its scope is often a key vault's resource group, not a target scope: read it directly.
    try:
        body = await services.arm.get_or_none(
            des, operation=ArmOperation.DISK_ENCRYPTION_SETS_GET, api_version=DISK_API_VERSION
        )
    except ArmError as exc:
        return Check(
            name,
            False,
            f"could not read it: {exc}",
            des,
            fix="grant the identity Microsoft.Compute/diskEncryptionSets/read on the set (the "
            "rpcopy role includes it: assign the role on the set's resource group)",
        )
    if body is None:
        return Check(
            name,
            False,
            "does not exist (or the identity cannot see it)",
            des,
            fix="fix the policy's targets[].diskEncryptionSetId",
        )
    location = bodies.location(body)
    if location != region:
        return Check(
            name,
            False,
            f"is in {location or 'an unknown region'}, but its policy target is {region}: Azure "
            "refuses a disk encryption set from another region",
            des,
            fix=f"name a disk encryption set in {region}",
        )
    return Check(name, True, f"exists in {region}, the target region", des)


async def preflight(services: Services) -> list[Check]:
    reach = scopes(services)
    checks: list[Check] = [await _token(services), _regions(services)]
    work = [
        *(
            _permissions(services, s, "source", actions_for(SOURCE_OPERATIONS))
            for s in reach.sources
        ),
        *(
            _permissions(services, s, "target", actions_for(TARGET_OPERATIONS))
            for s in reach.targets
        ),
        *(
            _permissions(services, s, "creation", actions_for(CREATE_OPERATIONS))
            for s in reach.creation_sources
        ),
        *(_group_exists(services, g) for g in reach.target_groups),
        _storage(services),
    ]
    checks.extend(await asyncio.gather(*work))
    checks.extend(await encryption_set_checks(services))
    return checks


def report(checks: list[Check]) -> dict[str, Any]:
    return {
        "passed": all(c.passed for c in checks),
        "checks": [c.to_api() for c in checks],
    }
