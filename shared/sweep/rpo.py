"""Announcing recovery-point-objective breaches, once per crossing."""

from __future__ import annotations

import logging

from shared.model import events
from shared.model.resources import CollectionInfo
from shared.policies.resolution import ResolvedTarget
from shared.rules.protection import PairStatus, breach_event_key
from shared.rules.protection import to_api as status_to_api
from shared.services import Services
from shared.storage.pairs import PairRecord

log = logging.getLogger(__name__)


async def announce_rpo(
    services: Services,
    info: CollectionInfo,
    target: ResolvedTarget,
    status: PairStatus,
    pair_source: str | None = None,
) -> None:
    """Emit an RPO-breach event when a pair crosses its objective (ok/at-risk -> breached).

    The pair row keeps the last judged state, so a breach that lasts several sweeps (first no
    copy at all, then a copy that is still too old) is announced once; recovering and breaching
    again is a new crossing."""
    breach = breach_event_key(status)

    def judge(pair: PairRecord) -> PairRecord | None:
        crossed = breach is not None and pair.rpo_state != "breached"
        if pair.rpo_state == status.rpo_state and not crossed:
            return None
        if crossed:
            return pair.evolve(rpo_state=status.rpo_state, rpo_breach_announced_for=breach)
        return pair.evolve(rpo_state=status.rpo_state)

    # A create-in-target pair is (VM, region): `pair_source` is the VM.
    source = pair_source or str(info.id)
    _, changed = await services.pairs.update_pair(source, target.region, judge)
    # A change with a breach pending is exactly a crossing (an unchanged breached pair was
    # announced before).
    if not changed or breach is None:
        return
    event = events.cloud_event(
        events.EventType.RPO_BREACHED,
        identity=services.settings.event_identity,
        # The pair's source-side resource: its collection, or the VM of a create-in-target pair.
        subject=source,
        time=services.clock(),
        data={
            "sourceCollectionId": str(info.id),
            **({"sourceVmId": pair_source} if pair_source else {}),
            "targetRegion": target.region,
            "policy": target.policy_name,
            "protection": status_to_api(status),
        },
        id_parts=(source.lower(), target.region, breach),
    )
    await services.emit(events.encode(event))
    log.warning("RPO breached for %s -> %s", info.id, target.region)
