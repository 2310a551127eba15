"""The custom role holds exactly the ARM actions the app calls, and is assigned on every
protected and target scope (subscription-scope and resource-group-scope modules)."""

from __future__ import annotations

from shared.arm.operations import required_actions
from tests.infra.bicep import INFRA, load_json, parse


def test_role_actions_are_the_apps_required_actions() -> None:
    assert load_json("rbac/role-actions.json") == required_actions(), (
        "infra/rbac/role-actions.json must equal shared.arm.operations.required_actions(): "
        "regenerate it with `python -c 'import json; from shared.arm.operations import "
        "required_actions as r; print(json.dumps(r(), indent=2))' > infra/rbac/role-actions.json`"
    )


def test_the_role_is_built_from_that_file_and_nothing_else() -> None:
    tree = parse(INFRA / "rbac" / "role.bicep")
    assert "loadJsonContent('role-actions.json')" in (INFRA / "rbac" / "role.bicep").read_text()
    role = tree["resources"]["role"]
    assert role["type"] == "Microsoft.Authorization/roleDefinitions"
    props = role["config"]["properties"]
    assert props["type"] == "customRole"
    assert props["permissions"] == [
        {"actions": "actions", "notActions": [], "dataActions": [], "notDataActions": []}
    ]
    assert props["assignableScopes"] == "assignableScopes"


def test_assigned_on_every_subscription_and_resource_group_scope() -> None:
    tree = parse(INFRA / "access" / "main.bicep")
    modules = tree["modules"]
    on_sub = modules["onSubscription"]
    assert on_sub["detail"]["path"] == "../rbac/role-assignment-subscription.bicep"
    assert on_sub["config"]["loop_type"]["detail"]["array_name"] == "subscriptionScopes"
    assert on_sub["config"]["config"]["scope"]["function"]["type"] == "subscription"
    on_rg = modules["onResourceGroup"]
    assert on_rg["detail"]["path"] == "../rbac/role-assignment-resource-group.bicep"
    assert on_rg["config"]["loop_type"]["detail"]["array_name"] == "resourceGroupScopes"
    assert on_rg["config"]["config"]["scope"]["function"]["type"] == "resource_group"
    text = (INFRA / "access" / "main.bicep").read_text()
    # Both protected and target scopes, de-duplicated, and the role assignable on all of them.
    assert "'${protectedScopes},${targetScopes}'" in text
    assert modules["role"]["config"]["params"]["assignableScopes"] == "allScopes"
    for name in ("role-assignment-subscription.bicep", "role-assignment-resource-group.bicep"):
        assignment = parse(INFRA / "rbac" / name)["resources"]["assignment"]["config"]["properties"]
        assert assignment["principalType"] == "ServicePrincipal"
        assert assignment["principalId"] == "principalId"


def test_the_hooks_pass_the_app_identity() -> None:
    main = parse(INFRA / "main.bicep")
    assert "RPCOPY_APP_PRINCIPAL_ID" in main["outputs"]
    hook = (INFRA / "hooks" / "postprovision.sh").read_text()
    assert 'principalId="$RPCOPY_APP_PRINCIPAL_ID"' in hook
    assert "access/main.bicep" in hook
