# Shared by the azd hooks (POSIX sh). azd runs them from the project root with the azd
# environment (.azure/<env>/.env: your settings and main.bicep's outputs) as variables.

# shellcheck disable=SC2034 # used by the hooks that source this file
INFRA_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)

log() { printf 'rpcopy: %s\n' "$*" >&2; }
fail() { log "error: $*"; exit 1; }

# require NAME...: every variable must be set and non-empty.
require() {
  for name in "$@"; do
    eval "value=\${$name:-}"
    # shellcheck disable=SC2154 # value is set by the eval above
    [ -n "$value" ] || fail "$name is not set in the azd environment (run 'azd provision' first, or 'azd env set $name ...'; see docs/deploy.md)"
  done
}

# deployment_name KIND: the subscription deployment a hook owns (access or events).
deployment_name() {
  printf 'rpcopy-%s-%s' "$1" "$(printf '%s' "$AZURE_ENV_NAME" | cut -c1-48)"
}

# deployment_exists NAME: true if the subscription deployment exists. Fails loudly when az
# itself fails (not logged in, no access) rather than guessing "not there".
deployment_exists() {
  found=$(az deployment sub list --subscription "$AZURE_SUBSCRIPTION_ID" \
    --query "[?name=='$1'].name" --output tsv --only-show-errors) ||
    fail "could not list the subscription deployments (az login? access to $AZURE_SUBSCRIPTION_ID?)"
  [ -n "$found" ]
}

# deployment_output NAME OUTPUT: one output of a subscription deployment, one value per line.
deployment_output() {
  az deployment sub show --subscription "$AZURE_SUBSCRIPTION_ID" --name "$1" \
    --query "properties.outputs.$2.value" --output tsv --only-show-errors ||
    fail "could not read output $2 of deployment $1"
}

# id_part ID N: the N-th '/'-separated field of a resource id (3 = subscription, 5 = group name).
id_part() { printf '%s' "$1" | cut -d/ -f"$2"; }
