"""A stand-in for the Azure CLI, for testing the azd hooks offline.

Installed as `az` on PATH by test_hooks.py. Every call is appended to $FAKE_AZ_LOG (one JSON
argv per line); answers come from the JSON state in $FAKE_AZ_STATE:
  deployments: {name: {output: value}}    what `az deployment sub list/show` know
  groups: {"<sub>/<name>": {tag: value}}  what `az group show` knows
  create_failures: N                      the next N `deployment sub create` calls fail
  broken: true                            every call fails (as when not logged in)
"""

from __future__ import annotations

import json
import os
import re
import sys


def main(args: list[str]) -> int:
    with open(os.environ["FAKE_AZ_LOG"], "a") as log:
        log.write(json.dumps(args) + "\n")
    path = os.environ["FAKE_AZ_STATE"]
    with open(path) as f:
        state = json.load(f)
    if state.get("broken"):
        print("ERROR: Please run 'az login' to setup account.", file=sys.stderr)
        return 1

    def opt(name: str) -> str:
        return args[args.index(name) + 1]

    command = " ".join(a for a in args[:4] if not a.startswith("-"))
    if command.startswith("deployment sub create"):
        if state.get("create_failures", 0) > 0:
            state["create_failures"] -= 1
            with open(path, "w") as f:
                json.dump(state, f)
            print("ERROR: DeploymentFailed", file=sys.stderr)
            return 1
        return 0
    if command.startswith("deployment sub list"):
        (name,) = re.findall(r"\[\?name=='([^']+)'\]", opt("--query"))
        if name in state.get("deployments", {}):
            print(name)
        return 0
    if command.startswith("deployment sub show"):
        outputs = state["deployments"].get(opt("--name"))
        if outputs is None:
            print("ERROR: DeploymentNotFound", file=sys.stderr)
            return 3
        (output,) = re.findall(r"properties\.outputs\.(\w+)\.value", opt("--query"))
        value = outputs.get(output, [])
        for line in value if isinstance(value, list) else [value]:
            print(line)
        return 0
    if command.startswith("group show"):
        tags = state.get("groups", {}).get(f"{opt('--subscription')}/{opt('--name')}")
        if tags is None:
            print("ERROR: ResourceGroupNotFound", file=sys.stderr)
            return 3
        print(tags.get("rpcopy-owner", ""))
        return 0
    if command.startswith(("group delete", "role assignment delete", "role definition delete")):
        return 0
    if command.startswith("deployment sub delete"):
        return 0
    print(f"fake az: unexpected command {args}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
