#!/bin/sh
# azd postdeploy: Event Grid system topics and event subscriptions (infra/events/main.bicep) for
# every protected subscription. After `azd deploy` because Event Grid refuses an AzureFunction
# endpoint whose function is not there yet; the freshly deployed app may take a minute to list
# its functions, so a failed attempt is retried.
set -eu
# shellcheck source=infra/hooks/lib.sh
. "$(dirname -- "$0")/lib.sh"

require AZURE_ENV_NAME AZURE_SUBSCRIPTION_ID AZURE_LOCATION RPCOPY_PROTECTED_SCOPES \
  RPCOPY_FUNCTION_APP_ID RPCOPY_EVENTS_IDENTITY_ID RPCOPY_STORAGE_ACCOUNT_ID RPCOPY_DEAD_LETTER_CONTAINER

name=$(deployment_name events)
attempts=${RPCOPY_HOOK_ATTEMPTS:-6}
wait_seconds=${RPCOPY_HOOK_RETRY_SECONDS:-30}
attempt=1
log "subscribing restore_point_created to restore point writes in: $RPCOPY_PROTECTED_SCOPES (deployment $name)"
until az deployment sub create \
  --subscription "$AZURE_SUBSCRIPTION_ID" \
  --location "$AZURE_LOCATION" \
  --name "$name" \
  --template-file "$INFRA_DIR/events/main.bicep" \
  --parameters \
    environmentName="$AZURE_ENV_NAME" \
    location="$AZURE_LOCATION" \
    protectedScopes="$RPCOPY_PROTECTED_SCOPES" \
    functionAppId="$RPCOPY_FUNCTION_APP_ID" \
    eventsIdentityId="$RPCOPY_EVENTS_IDENTITY_ID" \
    deadLetterStorageAccountId="$RPCOPY_STORAGE_ACCOUNT_ID" \
    deadLetterContainerName="$RPCOPY_DEAD_LETTER_CONTAINER" \
  --only-show-errors --output none; do
  if [ "$attempt" -ge "$attempts" ]; then
    fail "the Event Grid deployment $name failed $attempts times (is restore_point_created listed under the app's functions? see docs/deploy.md)"
  fi
  log "attempt $attempt/$attempts failed (the app may still be indexing its functions); retrying in ${wait_seconds}s"
  sleep "$wait_seconds"
  attempt=$((attempt + 1))
done
log "Event Grid subscriptions in place"
