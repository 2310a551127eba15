"""The request log: what ARM calls arrived, so tests and benchmarks can count them."""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from typing import Any

from .clock import format_arm


class RequestLog:
    def __init__(self, limit: int) -> None:
        self.entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self.counts: Counter[str] = Counter()
        self.status_counts: defaultdict[str, Counter[int]] = defaultdict(Counter)
        self.total = 0

    def record(
        self,
        *,
        method: str,
        path: str,
        query: str,
        operation: str,
        status: int | None,
        sim_time: float,
        duration_ms: float,
        correlation_id: str,
        fault: str | None,
    ) -> None:
        self.total += 1
        self.counts[operation] += 1
        self.status_counts[operation][status or 0] += 1
        self.entries.append(
            {
                "seq": self.total,
                "method": method,
                "path": path,
                "query": query,
                "operation": operation,
                "status": status,  # None: the connection was dropped without a response
                "time": time.time(),
                "simTime": sim_time,  # rendered on read: formatting is not free on the hot path
                "durationMs": round(duration_ms, 2),
                "correlationId": correlation_id,
                "fault": fault,
            }
        )

    def clear(self) -> None:
        self.entries.clear()
        self.counts.clear()
        self.status_counts.clear()
        self.total = 0

    def snapshot(self, operation: str | None = None, limit: int | None = None) -> dict[str, Any]:
        entries = [e for e in self.entries if operation is None or e["operation"] == operation]
        if limit is not None:
            entries = entries[-limit:]
        entries = [{**e, "simTime": format_arm(e["simTime"])} for e in entries]
        return {
            "total": self.total,
            "counts": dict(self.counts),
            "statusCounts": {
                op: {str(k): v for k, v in c.items()} for op, c in self.status_counts.items()
            },
            "requests": entries,
        }
