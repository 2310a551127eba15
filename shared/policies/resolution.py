"""Matching: which targets a collection has under the file's policies and its own tags."""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import InvalidResourceId
from shared.model.copy_options import NO_OPTIONS, CopyOptions
from shared.model.ids import CollectionId
from shared.model.resources import CollectionInfo
from shared.model.schedule import Schedule
from shared.policies.drill import DrillPolicy
from shared.policies.model import Policy, Specificity, Target
from shared.policies.names import render_collection_name
from shared.policies.tags import TagNames, targets_from_tags

# --------------------------------------------------------------------------------------------
# Matching


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
    # Target subscription, encryption and copied tags; defaults: none of them.
    options: CopyOptions = NO_OPTIONS
    # Copy schedules: copy only at these slots (None: every restore point, as it comes).
    copy_schedule: Schedule | None = None
    drill: DrillPolicy | None = None  # the policy's restore drills (tag policies: none)

    def pair_source(self, info: CollectionInfo) -> str:
        """The source side of this pair's jobs: the VM for a create-in-target pair (its
        restore points are made in the target from the VM), else the source collection."""
        if self.options.creates_in_target and info.source_vm_id:
            return info.source_vm_id
        return str(info.id)


@dataclass(frozen=True)
class Resolution:
    targets: tuple[ResolvedTarget, ...]
    # Human-readable: dropped targets and bad tags. The caller logs them and shows them in the
    # status API; they never stop the other targets.
    problems: tuple[str, ...]
    # Scheduled creation for this collection (the most specific policy with a create section).
    create: ResolvedCreate | None = None


@dataclass(frozen=True)
class ResolvedCreate:
    """A policy's `create` section as it applies to one collection."""

    policy_name: str
    schedule: Schedule
    consistency_mode: str | None
    exclude_disks: tuple[str, ...]
    keep_last: int | None
    max_age_days: float | None


@dataclass(frozen=True)
class _Candidate:
    specificity: Specificity
    order: int  # position of the policy in the file; breaks ties between equal specificity
    policy_name: str
    target: Target
    drill: DrillPolicy | None = None


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
            return Resolution((), ())  # nor creation: a copy target is written by copies only
        lowered_tags = {str(name).lower(): value for name, value in collection.tags.items()}
        candidates: dict[str, list[_Candidate]] = {}
        for order, policy in enumerate(self.policies):
            specificity = policy.match.specificity(collection.id, lowered_tags)
            if specificity is None:
                continue
            for target in policy.targets:
                candidates.setdefault(target.region, []).append(
                    _Candidate(specificity, order, policy.name, target, policy.drill)
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
            subscription = target.subscription_id or collection.id.subscription_id
            key = (group.lower(), name.lower())
            if subscription.lower() != collection.id.subscription_id.lower():
                key = (f"{subscription.lower()}/{group.lower()}", name.lower())
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
                    collection_id=CollectionId.build(subscription, group, name),
                    keep_last=retention.keep_last if retention else None,
                    max_age_days=retention.max_age_days if retention else None,
                    rpo_minutes=target.rpo_minutes,
                    options=CopyOptions(
                        target_subscription_id=target.subscription_id,
                        disk_encryption_set_id=target.disk_encryption_set_id,
                        copy_tags=target.copy_tags,
                        mode=target.mode,
                        exclude_disks=target.exclude_disks,
                    ),
                    copy_schedule=target.copy_schedule.schedule() if target.copy_schedule else None,
                    drill=best.drill,
                )
            )
        return Resolution(tuple(resolved), tuple(problems), self._create_for(collection))

    def _create_for(self, collection: CollectionInfo) -> ResolvedCreate | None:
        """The create section of the most specific matching policy that has one."""
        lowered_tags = {str(name).lower(): value for name, value in collection.tags.items()}
        best: tuple[int, int, Policy] | None = None
        for order, policy in enumerate(self.policies):
            if policy.create is None:
                continue
            specificity = policy.match.specificity(collection.id, lowered_tags)
            if specificity is not None and (best is None or (-specificity, order) < best[:2]):
                best = (-specificity, order, policy)
        if best is None:
            return None
        policy = best[2]
        spec = policy.create
        assert spec is not None
        retention = spec.retention
        return ResolvedCreate(
            policy_name=policy.name,
            schedule=spec.schedule.schedule(),
            consistency_mode=spec.consistency_mode,
            exclude_disks=spec.exclude_disks,
            keep_last=retention.keep_last if retention else None,
            max_age_days=retention.max_age_days if retention else None,
        )
