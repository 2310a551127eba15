#!/bin/sh
# azd predown: remove what the hooks created outside rg-<env>, before azd deletes that group:
# the Event Grid resource groups (only those still tagged rpcopy-owner=<env>), the role
# assignments and the custom role, each taken from its deployment's outputs -- never by search.
set -eu
# shellcheck source=infra/hooks/lib.sh
. "$(dirname -- "$0")/lib.sh"

require AZURE_ENV_NAME AZURE_SUBSCRIPTION_ID

events=$(deployment_name events)
if deployment_exists "$events"; then
  # (assigned first: a failing command substitution in a for list would not stop the script)
  groups=$(deployment_output "$events" resourceGroupIds)
  for group in $groups; do
    sub=$(id_part "$group" 3)
    rg=$(id_part "$group" 5)
    owner=$(az group show --subscription "$sub" --name "$rg" \
      --query 'tags."rpcopy-owner"' --output tsv --only-show-errors 2>/dev/null || true)
    if [ "$owner" = "$AZURE_ENV_NAME" ]; then
      log "deleting $group (Event Grid system topic and subscription)"
      az group delete --subscription "$sub" --name "$rg" --yes --only-show-errors ||
        fail "could not delete $group"
    else
      log "not deleting $group: its rpcopy-owner tag is '$owner', not '$AZURE_ENV_NAME'"
    fi
  done
  az deployment sub delete --subscription "$AZURE_SUBSCRIPTION_ID" --name "$events" --only-show-errors ||
    log "could not delete the deployment record $events (harmless)"
else
  log "no deployment $events: no Event Grid resources to remove"
fi

access=$(deployment_name access)
if deployment_exists "$access"; then
  on_subscriptions=$(deployment_output "$access" subscriptionRoleAssignmentIds)
  on_groups=$(deployment_output "$access" resourceGroupRoleAssignmentIds)
  for assignment in $on_subscriptions $on_groups; do
    log "deleting role assignment $assignment"
    az role assignment delete --ids "$assignment" --only-show-errors ||
      fail "could not delete role assignment $assignment"
  done
  definition=$(deployment_output "$access" roleDefinitionId)
  if [ -n "$definition" ]; then
    log "deleting custom role $definition"
    az role definition delete --name "${definition##*/}" --scope "${definition%%/providers/*}" --only-show-errors ||
      log "could not delete the custom role $definition (other assignments of it left?); delete it by hand: az role definition delete --name ${definition##*/} --scope ${definition%%/providers/*}"
  fi
  az deployment sub delete --subscription "$AZURE_SUBSCRIPTION_ID" --name "$access" --only-show-errors ||
    log "could not delete the deployment record $access (harmless)"
else
  log "no deployment $access: no role assignments to remove"
fi
