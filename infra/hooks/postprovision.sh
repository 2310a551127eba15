#!/bin/sh
# azd postprovision: give the app identity the custom role (infra/access/main.bicep) on every
# protected and target scope. A separate subscription deployment, so that `azd down` never
# treats your resource groups as its own; predown.sh removes what this one made.
set -eu
# shellcheck source=infra/hooks/lib.sh
. "$(dirname -- "$0")/lib.sh"

require AZURE_ENV_NAME AZURE_SUBSCRIPTION_ID AZURE_LOCATION RPCOPY_APP_PRINCIPAL_ID RPCOPY_PROTECTED_SCOPES

name=$(deployment_name access)
log "granting the app identity its role on: $RPCOPY_PROTECTED_SCOPES${RPCOPY_TARGET_SCOPES:+,$RPCOPY_TARGET_SCOPES} (deployment $name)"
az deployment sub create \
  --subscription "$AZURE_SUBSCRIPTION_ID" \
  --location "$AZURE_LOCATION" \
  --name "$name" \
  --template-file "$INFRA_DIR/access/main.bicep" \
  --parameters \
    environmentName="$AZURE_ENV_NAME" \
    principalId="$RPCOPY_APP_PRINCIPAL_ID" \
    protectedScopes="$RPCOPY_PROTECTED_SCOPES" \
    targetScopes="${RPCOPY_TARGET_SCOPES:-}" \
  --only-show-errors --output none ||
  fail "the role deployment $name failed: you need Owner or User Access Administrator on every scope (docs/deploy.md)"
log "role assigned"
