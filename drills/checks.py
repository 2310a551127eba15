"""The invariants every drill ends with, each a list of violations (empty = it holds).

- every job is terminal (Succeeded / Failed / Superseded), a Failed one with a reason;
- each job has exactly one terminal event (distinct CloudEvent ids: the app's ids are
  deterministic so a consumer can drop a re-delivered duplicate; re-deliveries are counted
  apart), of the job's final state and run, and its events respect the run semantics: one
  `retrying` for each earlier run, nothing for a later run, a `started` for the run that
  succeeded;
- no orphan in ARM: every copy in a target collection is the target of a job that Succeeded,
  or the last failed copy of a job that Failed (the app leaves those for a human, README
  "Limits"); nothing else (earlier runs' copies are deleted before a re-run, retention deletes
  are gone);
- no copy PUT that ARM had to refuse (400/409 not injected by a fault rule: a duplicate, out of
  order or in-flight copy) and, for the record, none that ARM throttled;
- every app queue (stage queues, `-poison`, `-poison-poison`) is empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from drills.observe import (
    RETRYING,
    STARTED,
    TERMINAL_EVENTS,
    TERMINAL_STATES,
    emulator_json,
    events_by_job,
)


@dataclass
class Verdict:
    figures: dict[str, Any] = field(default_factory=dict)
    violations: dict[str, list[str]] = field(default_factory=dict)

    def add(self, check: str, problems: Iterable[str]) -> None:
        self.violations.setdefault(check, []).extend(problems)

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def merge(self, other: Verdict) -> None:
        self.figures.update(other.figures)
        for check, problems in other.violations.items():
            self.add(check, problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "violations": {k: v[:50] for k, v in self.violations.items()},
            "violationCounts": {k: len(v) for k, v in self.violations.items()},
            **self.figures,
        }


def check_jobs(jobs: list[dict[str, Any]], events: list[dict[str, Any]]) -> Verdict:
    verdict = Verdict()
    states = Counter(j["state"] for j in jobs)
    verdict.figures["jobs"] = len(jobs)
    verdict.figures["jobStates"] = dict(sorted(states.items()))
    verdict.figures["runs"] = dict(sorted(Counter(str(j.get("run", 1)) for j in jobs).items()))
    not_terminal = [f"{j['id']} is {j['state']}" for j in jobs if j["state"] not in TERMINAL_STATES]
    verdict.add("every job terminal", not_terminal)
    verdict.add(
        "failed jobs have a reason",
        [
            f"{j['id']} Failed without error code/message"
            for j in jobs
            if j["state"] == "Failed"
            and not ((j.get("error") or {}).get("code") and (j.get("error") or {}).get("message"))
        ],
    )
    by_job = events_by_job(events)
    duplicates = 0
    problems: list[str] = []
    for job in jobs:
        raw = by_job.get(job["id"], [])
        distinct = {e["id"]: e for e in raw}
        duplicates += len(raw) - len(distinct)
        problems += _run_semantics(job, list(distinct.values()))
    unknown = sorted(set(by_job) - {j["id"] for j in jobs})
    problems += [f"events for job {job_id} that the ledger does not list" for job_id in unknown]
    verdict.add("one terminal event per job, run semantics", problems)
    types = Counter(e["type"] for e in {e["id"]: e for e in events}.values())
    verdict.figures["events"] = {
        "delivered": len(events),
        "distinct": sum(types.values()),
        "redeliveredDuplicates": duplicates,
        "byType": dict(sorted(types.items())),
    }
    return verdict


def _run_semantics(job: dict[str, Any], events: list[dict[str, Any]]) -> list[str]:
    job_id, state, run = job["id"], job["state"], int(job.get("run") or 1)
    out: list[str] = []
    terminal = [e for e in events if e["type"] in TERMINAL_EVENTS]
    if state in TERMINAL_STATES and len(terminal) != 1:
        kinds = ", ".join(f"{e['type']} run {e['data'].get('run')}" for e in terminal) or "none"
        out.append(f"{job_id} ({state}, run {run}) has {len(terminal)} terminal events: {kinds}")
    for event in terminal:
        if TERMINAL_EVENTS[event["type"]] != state or int(event["data"].get("run", 1)) != run:
            out.append(
                f"{job_id} is {state} run {run} but emitted {event['type']} for run "
                f"{event['data'].get('run')}"
            )
    later = [e for e in events if int(e["data"].get("run", 1)) > run]
    if later:
        out.append(f"{job_id} is on run {run} but has events of later runs")
    retried = sorted(int(e["data"].get("run", 1)) for e in events if e["type"] == RETRYING)
    if state in TERMINAL_STATES and retried != list(range(1, run)):
        out.append(f"{job_id} ended on run {run} with retrying events for runs {retried}")
    started = [int(e["data"].get("run", 1)) for e in events if e["type"] == STARTED]
    if len(started) != len(set(started)):
        out.append(f"{job_id} has two distinct started events for one run: {sorted(started)}")
    if state == "Succeeded" and run not in started:
        out.append(f"{job_id} Succeeded on run {run} without a started event for it")
    return out


def check_arm(arm_endpoint: str, jobs: list[dict[str, Any]]) -> Verdict:
    """Orphans in the target collections, and copy PUTs that ARM refused."""
    verdict = Verdict()
    state = emulator_json(arm_endpoint, "/_emulator/state")
    by_target: dict[str, dict[str, Any]] = {
        str(j["targetRestorePointId"]).lower(): j for j in jobs if j.get("targetRestorePointId")
    }
    copies = succeeded = failed_left = 0
    orphans: list[str] = []
    for rpc in state["restorePointCollections"]:
        for rp in rpc["restorePoints"]:
            if "replication" not in rp:  # a local restore point, not a copy
                continue
            copies += 1
            job = by_target.get(rp["id"].lower())
            if job is not None and job["state"] == "Succeeded":
                succeeded += 1
            elif job is not None and job["state"] == "Failed":
                failed_left += 1
            else:
                owner = f"job {job['id']} is {job['state']}" if job else "no job names it"
                orphans.append(
                    f"{rp['id']} ({rp['provisioningState']}, replication {rp['replication']}): "
                    f"{owner}"
                )
    verdict.figures["armCopies"] = {
        "inTargetCollections": copies,
        "ofSucceededJobs": succeeded,
        "failedCopiesOfFailedJobsLeftForAHuman": failed_left,
        "orphans": len(orphans),
    }
    verdict.add("no orphan copy in ARM", orphans)

    log = emulator_json(arm_endpoint, "/_emulator/requests", operation="RestorePoints_Create")
    refused: list[str] = []
    throttled = 0
    for entry in log["requests"]:
        if entry["operation"] != "RestorePoints_Create" or entry["method"] != "PUT":
            continue
        if entry.get("fault"):
            continue
        if entry["status"] in (400, 409):
            refused.append(f"PUT {entry['path']} answered {entry['status']} (seq {entry['seq']})")
        elif entry["status"] == 429:
            throttled += 1
    counts: dict[str, int] = log["counts"]
    verdict.figures["armCalls"] = {
        "total": sum(counts.values()),
        "byOperation": dict(sorted(counts.items())),
        "statusByOperation": log["statusCounts"],
        "copyPutsRefusedByArm": len(refused),
        "copyPutsThrottledByArm": throttled,
        "injectedFaultsFired": fired_faults(arm_endpoint),
    }
    verdict.add("no copy PUT refused by ARM", refused)
    return verdict


def fired_faults(arm_endpoint: str) -> dict[str, int]:
    rules = emulator_json(arm_endpoint, "/_emulator/faults")["faults"]
    out: Counter[str] = Counter()
    for rule in rules:
        label = f"{rule['operation']} {rule['kind']}" + (
            f" {rule['status']}" if rule.get("status") else ""
        )
        out[label] += int(rule.get("fired", 0))
    return dict(sorted(out.items()))


def check_queues(drained: bool, depths: dict[str, int], waited: float) -> Verdict:
    verdict = Verdict()
    verdict.figures["queues"] = {
        "drained": drained,
        "secondsToDrain": waited,
        "checked": sorted(depths),
        "leftover": {q: n for q, n in depths.items() if n},
    }
    verdict.add("every queue drained", [f"{q} holds {n}" for q, n in depths.items() if n])
    return verdict
