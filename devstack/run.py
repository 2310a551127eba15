"""`python -m devstack run` (`make run`): the local stack, kept running until Ctrl-C.

Prints every URL, key and connection string needed to call the app, plus ready-to-paste curl
commands, then waits. SIGINT or SIGTERM stops everything it started (by PID) and exits 0.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

from devstack import realtime
from devstack.console import Console, ignore_interrupts, interrupt_on_signals
from devstack.stack import EMULATOR_TOKEN, Stack
from shared.errors import PolicyError
from shared.policies.loading import load_policy_file

READY = "Ready. Press Ctrl-C to stop everything."
API_VERSION = "2025-04-01"
# What the curl examples seed: a VM in the demo policy's source resource group.
EXAMPLE_VM = "vm-web01"
EXAMPLE_COLLECTION = f"{EXAMPLE_VM}-rpc"
EXAMPLE_RP = "rp-001"
# The command line as `make setup` installs it (the path works from the repository root).
RPCOPY = ".venv/bin/rpcopy"


def _quote(value: object) -> str:
    return shlex.quote(value if isinstance(value, str) else json.dumps(value))


def curl_examples(stack: Stack) -> list[tuple[str, str]]:
    """(what it does, command) pairs a user can paste into a shell as they are."""
    host, arm = stack.host_url, stack.arm_endpoint
    key = f"x-functions-key: {stack.options.function_key}"
    sub, group = realtime.SUBSCRIPTION, realtime.SOURCE_GROUP
    collection_id = (
        f"/subscriptions/{sub}/resourceGroups/{group}"
        f"/providers/Microsoft.Compute/restorePointCollections/{EXAMPLE_COLLECTION}"
    )
    rp_id = f"{collection_id}/restorePoints/{EXAMPLE_RP}"
    seed = {
        "subscriptionId": sub,
        "resourceGroups": [
            {"name": group, "location": realtime.SOURCE_REGION},
            *({"name": g, "location": r} for r, g in realtime.TARGET_GROUPS.items()),
        ],
        "virtualMachines": [
            {
                "name": EXAMPLE_VM,
                "resourceGroup": group,
                "location": realtime.SOURCE_REGION,
                "osDisk": {"sizeGB": 128, "usedGB": 30},
                "dataDisks": [{"lun": 0, "sizeGB": 512, "usedGB": 200}],
                "restorePointCollections": [
                    {"name": EXAMPLE_COLLECTION, "restorePoints": [EXAMPLE_RP]}
                ],
            }
        ],
    }
    copy = {
        "sourceRestorePointId": rp_id,
        "targetRegion": "westus",
        "targetResourceGroup": realtime.TARGET_GROUPS["westus"],
    }
    json_type = "content-type: application/json"
    return [
        (
            f"Seed a VM ({EXAMPLE_VM}, {realtime.SOURCE_REGION}) with a collection and a restore "
            "point (no event: seeded resources are just there)",
            f"curl -s -X POST {arm}/_emulator/seed -H {_quote(json_type)} -d {_quote(seed)}",
        ),
        (
            "Request a copy to westus (202 + Location)",
            f"curl -s -i -X POST {host}/api/copies -H {_quote(key)} -H {_quote(json_type)} "
            f"-d {_quote(copy)}",
        ),
        (
            "List copy jobs of that collection (state, per-disk progress)",
            f"curl -s -G {host}/api/copies -H {_quote(key)} "
            f"--data-urlencode {_quote('sourceCollectionId=' + collection_id)}",
        ),
        (
            "New restore point as a backup schedule would make it: Event Grid tells the app, "
            "which copies it to every policy region",
            f"curl -s -X POST {arm}/_emulator/restore-points -H {_quote(json_type)} "
            f"-d {_quote({'collectionId': collection_id})}",
        ),
        (
            "Protection status (RPO per source collection and region)",
            f"curl -s {host}/api/protection -H {_quote(key)}",
        ),
        (
            "What the sweep would copy and delete (dry run)",
            f"curl -s {host}/api/plan -H {_quote(key)}",
        ),
        (
            "Run the sweep now (timer trigger, master key)",
            f"curl -s -X POST {host}/admin/functions/sweep_timer "
            f"-H {_quote('x-functions-key: ' + stack.options.master_key)} "
            f'-H {_quote(json_type)} -d \'{{"input": ""}}\'',
        ),
        (
            "ARM directly: the source restore point with its instance view",
            f"curl -s -H {_quote('Authorization: Bearer ' + EMULATOR_TOKEN)} "
            f"{_quote(f'{arm}{rp_id}?api-version={API_VERSION}&$expand=instanceView')}",
        ),
    ]


def cli_examples(stack: Stack) -> list[str]:
    """`rpcopy` against this stack: where it is, then a copy of the seeded example (curl's
    first example seeds it) followed live to a usable copy."""
    sub, group = realtime.SUBSCRIPTION, realtime.SOURCE_GROUP
    rp_id = (
        f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute"
        f"/restorePointCollections/{EXAMPLE_COLLECTION}/restorePoints/{EXAMPLE_RP}"
    )
    return [
        f"export RPCOPY_ENDPOINT={_quote(stack.host_url)} "
        f"RPCOPY_KEY={_quote(stack.options.function_key)}",
        "# after the seed above: copy to northeurope, live per-disk progress, exit 0 when usable",
        f"{RPCOPY} copy {_quote(rp_id)} --to northeurope --resource-group "
        f"{_quote(realtime.TARGET_GROUPS['northeurope'])} --wait",
        f"{RPCOPY} list        {RPCOPY} protection        {RPCOPY} plan        "
        f"{RPCOPY} preflight        {RPCOPY} --help",
    ]


def describe(stack: Stack, console: Console, policy: Path) -> None:
    c = console
    c.heading("Local stack")
    for index, host in enumerate(stack.hosts):
        c.line(f"  function host {index}     {host.url}   (API under /api)")
    c.line(f"  Event Grid webhook  {realtime.eventgrid_webhook(stack).split('?')[0]}")
    c.line("                      (the emulator delivers every resource event here)")
    c.line(f"  status page         {stack.host_url}/api/dashboard   (enter the function key)")
    c.line(f"  OpenAPI document    {stack.host_url}/api/openapi.json   (needs the key)")
    c.line(f"  ARM emulator        {stack.arm_endpoint}   (bearer token: {EMULATOR_TOKEN})")
    c.line(f"  emulator control    {stack.arm_endpoint}/_emulator/   (see docs/emulator.md)")
    c.line(f"  time scale          {stack.options.time_scale:g} simulated s per real s")
    if stack.options.time_scale != 1:
        c.line(
            "                      (RPO ages in /api/protection are not meaningful at this scale)"
        )
    c.heading("Keys and connections")
    c.line(f"  function key        {stack.options.function_key}")
    c.line(f"  Event Grid key      {stack.options.eventgrid_key}")
    c.line(f"  master key          {stack.options.master_key}")
    c.line("  Azurite (the public, well-known development account key):")
    c.line(f"    {stack.storage_connection}")
    c.line(f"  policy file         {realtime.display_path(policy)}")
    c.heading("Try it (paste into a shell)")
    for what, command in curl_examples(stack):
        c.line(f"# {what}")
        c.line(command)
        c.line()
    c.heading("The rpcopy command line (paste into a shell)")
    for line in cli_examples(stack):
        c.line(line)
    c.line()
    c.heading("Processes and logs")
    for name, pid in realtime.processes(stack):
        c.line(f"  {name:<18} pid {pid}")
    c.line(f"  logs                {realtime.display_path(stack.workdir)}/")
    for path in realtime.log_files(stack):
        c.line(f"    tail -f {realtime.display_path(path)}")
    c.line()


def _died(stack: Stack) -> str | None:
    """Name and log of a child that exited on its own (the stack is then not usable)."""
    children = [(stack.azurite.process if stack.azurite else None), stack.emulator]
    children += [host.process for host in stack.hosts]
    for child in children:
        if child is not None and not child.running():
            return f"{child.name} exited on its own; see {child.log_path}"
    return None


def run_stack(
    *, hosts: int = 1, time_scale: float = 1.0, policy: Path | None = None,
    workdir: Path | None = None,
) -> int:  # fmt: skip
    console = Console()
    policy = (policy or realtime.DEMO_POLICY).resolve()
    try:
        # A bad policy is refused here with every problem listed, not by a host that will not start.
        load_policy_file(str(policy))
    except PolicyError as exc:
        console.line(str(exc))
        return 2
    workdir = workdir or realtime.new_workdir("run")
    workdir.mkdir(parents=True, exist_ok=True)
    options = realtime.stack_options(workdir, policy=policy, hosts=hosts, time_scale=time_scale)
    stack = Stack(options, workdir)
    code = 0
    try:
        with interrupt_on_signals():
            console.line(f"Starting Azurite, the ARM emulator and {hosts} function host(s) ...")
            stack.start()
            realtime.subscribe_app(stack)
            describe(stack, console, policy)
            console.line(READY)
            while (problem := _died(stack)) is None:
                time.sleep(0.5)
            for line in realtime.log_tails(workdir):
                console.line(line)
            console.line(f"Stopping: {problem}")
            code = 1
    except KeyboardInterrupt:
        console.line()
        console.line("Stopping ...")
    except Exception as exc:
        for line in realtime.log_tails(workdir):
            console.line(line)
        console.line(f"run failed: {type(exc).__name__}: {exc}")
        console.line(f"Logs: {realtime.display_path(workdir)}/")
        code = 1
    finally:
        ignore_interrupts()
        stack.stop()
    console.line(f"Stopped everything it started; logs stay in {realtime.display_path(workdir)}/")
    return code
