"""The `rpcopy` commands (Typer): each calls the app's HTTP API and shows the answer as a table
(Rich) or as the API's own JSON (`--output json`). Exit codes: `rpcopy_cli.session`.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from rpcopy_cli import render
from rpcopy_cli.client import ApiProblem
from rpcopy_cli.session import (
    EXIT_NOT_USABLE,
    EXIT_OK,
    Output,
    Session,
    job_path,
    session,
    wait_for,
)

app = typer.Typer(
    name="rpcopy",
    help="Cross-region copies of Azure VM restore points: the rpcopy app's command line.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
drills_app = typer.Typer(help="Restore drills: prove a copy restores (where the app has them).")
app.add_typer(drills_app, name="drills")


EndpointOpt = Annotated[
    str | None,
    typer.Option("--endpoint", help="the app's URL (else RPCOPY_ENDPOINT, else the profile)"),
]
KeyOpt = Annotated[
    str | None,
    typer.Option("--key", help="function key, sent as x-functions-key (else RPCOPY_KEY)"),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option("--profile", help="profile in ~/.config/rpcopy/profiles.toml (RPCOPY_PROFILE)"),
]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table or json")]
TimeoutOpt = Annotated[
    float | None, typer.Option("--timeout", help="give up waiting after this many seconds")
]
IntervalOpt = Annotated[float, typer.Option("--interval", help="seconds between status reads")]


# -- commands ------------------------------------------------------------------------------------


@app.command("copy")
def copy_command(
    source: Annotated[
        str,
        typer.Argument(
            help="the source restore point's resource id, or a VM's (create in the target)"
        ),
    ],
    to: Annotated[str, typer.Option("--to", help="target region, such as westus")],
    resource_group: Annotated[
        str | None, typer.Option("--resource-group", "-g", help="target resource group")
    ] = None,
    collection_name: Annotated[
        str | None, typer.Option("--collection-name", help="target collection name")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="follow it; exit 0 only when the copy is usable")
    ] = False,
    timeout: TimeoutOpt = None,
    interval: IntervalOpt = 2.0,
    endpoint: EndpointOpt = None,
    key: KeyOpt = None,
    profile: ProfileOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Copy a restore point to another region (POST /api/copies); given a VM's id instead, create
    a restore point of it directly in that region (create-in-target)."""
    # The API tells the two apart by field; the app parses the id strictly either way.
    field = (
        "sourceVmId"
        if "/providers/microsoft.compute/virtualmachines/" in source.lower()
        else "sourceRestorePointId"
    )
    body: dict[str, str] = {field: source, "targetRegion": to}
    if resource_group:
        body["targetResourceGroup"] = resource_group
    if collection_name:
        body["targetCollectionName"] = collection_name
    with session(endpoint, key, profile, output) as s:
        response = s.api.call("POST", "/api/copies", body=body, expect=(200, 202))
        job = response.json()
        if not s.json:
            how = "requested" if response.status_code == 202 else "already known"
            s.out.print(
                f"Copy job {job['id']} {how} ({job['state']}); status: "
                f"{response.headers.get('location', job_path(job['id']))}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if not wait:
            s.show(job, render.job_table)
            return
        code = wait_for(s, [job], timeout=timeout, interval=interval)
    raise typer.Exit(code)


@app.command("status")
def status_command(
    job_id: Annotated[str, typer.Argument(metavar="JOB", help="the copy job's id")],
    watch: Annotated[
        bool, typer.Option("--watch", help="follow it until it ends; exit 0 only if usable")
    ] = False,
    timeout: TimeoutOpt = None,
    interval: IntervalOpt = 2.0,
    endpoint: EndpointOpt = None,
    key: KeyOpt = None,
    profile: ProfileOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """One copy job: state, per-disk progress, expected finish (GET /api/copies/{id})."""
    with session(endpoint, key, profile, output) as s:
        job = s.api.get(job_path(job_id))
        if not watch:
            s.show(job, render.job_table)
            return
        code = wait_for(s, [job], timeout=timeout, interval=interval)
    raise typer.Exit(code)


@app.command("runs")
def runs_command(
    job_id: Annotated[str, typer.Argument(metavar="JOB", help="the copy job's id")],
    endpoint: EndpointOpt = None,
    key: KeyOpt = None,
    profile: ProfileOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Every run of a copy job, each with its own outcome (GET /api/copies/{id}/runs)."""
    with session(endpoint, key, profile, output) as s:
        s.show(s.api.get(f"{job_path(job_id)}/runs"), render.runs_table)


@app.command("list")
def list_command(
    state: Annotated[
        str | None, typer.Option("--state", help="e.g. Replicating, failed (any case)")
    ] = None,
    source_collection: Annotated[
        str | None, typer.Option("--source-collection", help="source collection resource id")
    ] = None,
    source_vm: Annotated[
        str | None,
        typer.Option("--source-vm", help="source VM resource id (where the app has the filter)"),
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="target region")] = None,
    page_size: Annotated[int | None, typer.Option("--page-size", min=1, max=1000)] = None,
    cursor: Annotated[str | None, typer.Option("--cursor", help="from a previous page")] = None,
    all_pages: Annotated[
        bool, typer.Option("--all", help="every page, not just the first")
    ] = False,
    endpoint: EndpointOpt = None,
    key: KeyOpt = None,
    profile: ProfileOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Copy jobs, newest first (GET /api/copies with the API's filters)."""
    params = {
        name: value
        for name, value in (
            ("state", state),
            ("sourceCollectionId", source_collection),
            ("sourceVmId", source_vm),
            ("targetRegion", to),
            ("pageSize", str(page_size) if page_size else None),
            ("cursor", cursor),
        )
        if value
    }
    with session(endpoint, key, profile, output) as s:
        page = s.api.get("/api/copies", **params)
        jobs = list(page.get("value", []))
        while all_pages and page.get("nextLink"):
            page = s.api.call("GET", page["nextLink"]).json()
            jobs.extend(page.get("value", []))
        body: dict[str, Any] = {"value": jobs}
        if page.get("nextLink"):
            body["nextLink"] = page["nextLink"]
        s.show(body, lambda b: render.jobs_table(b["value"]))
        if not s.json and body.get("nextLink"):
            s.err.print("more: rpcopy list --all (or --cursor from the nextLink)", soft_wrap=True)


@app.command("protection")
def protection_command(
    endpoint: EndpointOpt = None,
    key: KeyOpt = None,
    profile: ProfileOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Each protected (collection, region): newest usable copy, age against the RPO."""
    with session(endpoint, key, profile, output) as s:
        s.show(s.api.get("/api/protection"), render.protection_table)


@app.command("plan")
def plan_command(
    endpoint: EndpointOpt = None,
    key: KeyOpt = None,
    profile: ProfileOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """What the sweep would copy and delete, and why (GET /api/plan, a dry run)."""
    with session(endpoint, key, profile, output) as s:
        s.show(s.api.get("/api/plan"), render.plan_table)


@app.command("preflight")
def preflight_command(
    endpoint: EndpointOpt = None,
    key: KeyOpt = None,
    profile: ProfileOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Can this deployment do its job? Each check, passed or failed with the fix (exit 1 if not)."""
    with session(endpoint, key, profile, output) as s:
        report = s.api.get("/api/preflight")
        s.show(report, render.preflight_table)
    raise typer.Exit(EXIT_OK if report.get("passed") else EXIT_NOT_USABLE)


@app.command("retry")
def retry_command(
    job_id: Annotated[str, typer.Argument(metavar="JOB", help="a Failed or Cancelled job's id")],
    wait: Annotated[bool, typer.Option("--wait", help="follow the new run")] = False,
    timeout: TimeoutOpt = None,
    interval: IntervalOpt = 2.0,
    endpoint: EndpointOpt = None,
    key: KeyOpt = None,
    profile: ProfileOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Run a Failed or Cancelled copy job again (POST /api/copies/{id}/retry)."""
    with session(endpoint, key, profile, output) as s:
        job = s.api.call("POST", f"{job_path(job_id)}/retry", expect=(202,)).json()
        if not wait:
            s.show(job, render.job_table)
            return
        code = wait_for(s, [job], timeout=timeout, interval=interval)
    raise typer.Exit(code)


@app.command("cancel")
def cancel_command(
    job_id: Annotated[str, typer.Argument(metavar="JOB", help="the copy job's id")],
    delete_copy: Annotated[
        bool,
        typer.Option(
            "--delete-copy",
            help="also delete a copy already started (default: leave it to Azure, untracked)",
        ),
    ] = False,
    endpoint: EndpointOpt = None,
    key: KeyOpt = None,
    profile: ProfileOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Cancel a copy job that has not ended (DELETE /api/copies/{id})."""
    params = {"deleteCopy": "true"} if delete_copy else None
    with session(endpoint, key, profile, output) as s:
        job = s.api.call("DELETE", job_path(job_id), params=params).json()
        s.show(job, render.job_table)
        copy = job.get("copy") or {}
        if not s.json and copy.get("status") not in (None, "none"):
            s.out.print(
                f"copy {copy.get('id')}: {copy.get('status')}", markup=False, soft_wrap=True
            )


@drills_app.callback(invoke_without_command=True)
def drills_command(
    ctx: typer.Context,
    endpoint: EndpointOpt = None,
    key: KeyOpt = None,
    profile: ProfileOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Restore drills run so far (GET /api/drills); `rpcopy drills start` starts one."""
    if ctx.invoked_subcommand is not None:
        return
    with session(endpoint, key, profile, output) as s:
        body = _drills_call(s, "GET")
        s.show(body, lambda b: render.drills_table(b.get("drills", [])))


@drills_app.command("start")
def drills_start_command(
    to: Annotated[str, typer.Option("--to", help="the region whose copy is restored")],
    source_collection: Annotated[
        str | None, typer.Option("--source-collection", help="source collection resource id")
    ] = None,
    endpoint: EndpointOpt = None,
    key: KeyOpt = None,
    profile: ProfileOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Start a restore drill (POST /api/drills)."""
    body = {"targetRegion": to}
    if source_collection:
        body["sourceCollectionId"] = source_collection
    with session(endpoint, key, profile, output) as s:
        drill = _drills_call(s, "POST", body)
        s.show(drill, lambda d: render.drills_table([d.get("drill", d)]))


def _drills_call(s: Session, method: str, body: Any = None) -> Any:
    try:
        return s.api.call(method, "/api/drills", body=body, expect=(200, 201, 202)).json()
    except ApiProblem as exc:
        # The host's own 404 for a route the app does not have carries no problem+json; the
        # app's own 404s (problem+json) are passed on as they are.
        if exc.status == 404 and exc.title.startswith("HTTP 404"):
            raise ApiProblem(
                "This app has no restore drills",
                f"{method} /api/drills answered 404 ({exc.title}); the deployed app predates "
                "restore drills: deploy a newer version",
                404,
            ) from None
        raise


def main() -> None:
    """The `rpcopy` console script."""
    try:
        app()
    except BrokenPipeError:  # `rpcopy list | head`
        sys.stderr.close()
        sys.exit(EXIT_OK)
