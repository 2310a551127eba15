"""The status page: its HTML shell and the one JSON answer it draws from.

The shell (`page/dashboard.html`) holds no data and no key: it asks for the function key, keeps
it in sessionStorage and sends it as `x-functions-key` to `GET /api/dashboard/data`, never in a
URL (a function key in `?code=` reaches access logs, proxies and browser history). So the shell
is served without a key, and everything it shows needs one. Its script and style are inline and
allowed by hash in a strict Content-Security-Policy: the page loads nothing from anywhere, so it
works where scripts from the internet are blocked.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from shared.http_api.models import DashboardData, shape
from shared.http_api.views import job_view
from shared.model.job import ACTIVE_STATES, JobRecord, JobState
from shared.model.keys import pair_key
from shared.model.times import iso, utc
from shared.rules.age_history import age_series
from shared.services import Services
from shared.sweep.status import protection

PAGE = Path(__file__).with_name("page") / "dashboard.html"
# The answer stays bounded whatever the history: the newest rows of each list.
MAX_LISTED = 50
DEFAULT_WINDOW_HOURS = 24.0
MAX_WINDOW_HOURS = 24.0 * 14


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@cache
def page() -> tuple[str, dict[str, str]]:
    """The HTML and its headers; the CSP allows exactly the page's own inline script and
    style (by hash) and requests to this origin."""
    html = PAGE.read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    csp = "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(_sha256(s) for s in scripts),
            "style-src " + " ".join(_sha256(s) for s in styles),
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
    }
    return html, headers


def window_hours(raw: str | None) -> float | None:
    """The `hours` query parameter: None when it is not a number in (0, 14 days]."""
    if raw is None or raw == "":
        return DEFAULT_WINDOW_HOURS
    try:
        hours = float(raw)
    except ValueError:
        return None
    return hours if 0 < hours <= MAX_WINDOW_HOURS else None


def _newest_first(jobs: list[JobRecord]) -> list[JobRecord]:
    return sorted(jobs, key=lambda j: (utc(j.updated_at), j.job_id), reverse=True)[:MAX_LISTED]


async def dashboard_data(services: Services, hours: float) -> dict[str, Any]:
    """Protection per pair, copies in flight (per disk), recent failures and finished copies,
    and each pair's copy age over the window."""
    now = services.clock()
    since = now - timedelta(hours=hours)
    status = await protection(services)

    # A copy in flight for longer than the window is still in flight: active states count
    # whatever their age.
    jobs = await services.ledger.recent_or_active(since, ACTIVE_STATES)
    in_flight = [j for j in jobs if j.state in ACTIVE_STATES]
    recent = [j for j in jobs if (utc(j.updated_at) or now) >= since]
    failures = [
        j
        for j in recent
        if j.failure is not None and j.state in (JobState.FAILED, JobState.RERUN_PENDING)
    ]
    finished = [j for j in recent if j.state in (JobState.SUCCEEDED, JobState.SUPERSEDED)]

    history = []
    for pair in status["pairs"]:
        jobs = await services.ledger.for_pair(
            pair_key(pair["sourceCollectionId"], pair["targetRegion"])
        )
        points = age_series(jobs, since=since, now=now)
        history.append(
            {
                "sourceCollectionId": pair["sourceCollectionId"],
                "targetRegion": pair["targetRegion"],
                "rpoMinutes": pair["rpoMinutes"],
                "points": [{"at": iso(p.at), "ageMinutes": p.age_minutes} for p in points],
            }
        )

    body = {
        "generatedAt": iso(now),
        "windowHours": hours,
        "pairs": status["pairs"],
        "problems": status["problems"],
        "inFlight": [
            job_view(j) for j in sorted(in_flight, key=lambda j: (utc(j.requested_at), j.job_id))
        ][:MAX_LISTED],
        "recentFailures": [job_view(j) for j in _newest_first(failures)],
        "recentlyFinished": [job_view(j) for j in _newest_first(finished)],
        "history": history,
    }
    return shape(DashboardData, body)
