"""checkov (framework bicep) over infra/: no failed check, every skip has its reason, and
checkov really read every file (a file it cannot parse would be skipped silently)."""

from __future__ import annotations

from typing import Any

from tests.infra.bicep import bicep_files, parse


def _summary(check: dict[str, Any]) -> str:
    return (
        f"{check['check_id']} {check['check_name']} on {check['resource']} ({check['file_path']})"
    )


def test_no_failed_checks(checkov_report: dict[str, Any]) -> None:
    failed = checkov_report["results"]["failed_checks"]
    assert not failed, "checkov failed:\n" + "\n".join(_summary(c) for c in failed)


def test_checkov_parsed_every_file(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0, checkov_report["results"].get("parsing_errors")
    declared = sum(len(parse(p).get("resources") or {}) for p in bicep_files())
    assert summary["resource_count"] >= declared, (
        f"checkov saw {summary['resource_count']} resources, the files declare {declared}"
    )
    assert checkov_report["results"]["passed_checks"], "checkov ran no check at all"


def test_every_skip_says_why(checkov_report: dict[str, Any]) -> None:
    skipped = checkov_report["results"]["skipped_checks"]
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "").strip()
        assert len(reason) > 20, f"skip without a real reason: {_summary(check)}"
