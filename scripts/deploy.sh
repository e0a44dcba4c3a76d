#!/usr/bin/env bash
# Deploy Liveness Quick Link to Azure (docs/deploy.md):
#   1. provision infra/main.bicep into a resource group (Azure CLI),
#   2. create the callback signing keys in Key Vault once (never printed, never a parameter),
#      and have App Service resolve the app's Key Vault reference to them,
#   3. publish dist/app.zip (Core Tools when installed, else zip deploy; `make package` builds it),
#   4. print the function URLs and how to get a function key.
#
# usage: scripts/deploy.sh [--skip-infra] [--skip-publish] [--what-if] [bicepParam=value ...]
#
# environment:
#   AZURE_RESOURCE_GROUP   resource group (required); created when missing
#   AZURE_LOCATION         region for a new resource group (required only then)
#   AZURE_SUBSCRIPTION_ID  subscription (default: the az CLI's current one)
#   DEPLOYMENT_NAME        ARM deployment name (default: liveness-quicklink)
#   PUBLISH_WITH           func | az (default: func when Core Tools is installed, else az)
#   APP_DIR, APP_ZIP       the staged package (default: dist/app, dist/app.zip)
set -euo pipefail

cd "$(dirname "$0")/.."

skip_infra=false
skip_publish=false
what_if=false
bicep_params=()
for arg in "$@"; do
  case "$arg" in
    --skip-infra) skip_infra=true ;;
    --skip-publish) skip_publish=true ;;
    --what-if) what_if=true ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*) echo "deploy: unknown option $arg" >&2; exit 2 ;;
    *=*) bicep_params+=("$arg") ;;
    *) echo "deploy: expected bicepParam=value, got $arg" >&2; exit 2 ;;
  esac
done

rg="${AZURE_RESOURCE_GROUP:?set AZURE_RESOURCE_GROUP to the resource group to deploy into}"
deployment="${DEPLOYMENT_NAME:-liveness-quicklink}"
app_dir="${APP_DIR:-dist/app}"
app_zip="${APP_ZIP:-dist/app.zip}"

log() { printf '==> %s\n' "$*" >&2; }

command -v az >/dev/null || { echo "deploy: the Azure CLI (az) is required: https://aka.ms/azure-cli" >&2; exit 1; }
az account show --only-show-errors -o none 2>/dev/null || { echo "deploy: run 'az login' first" >&2; exit 1; }
if [[ -n "${AZURE_SUBSCRIPTION_ID:-}" ]]; then
  az account set --subscription "$AZURE_SUBSCRIPTION_ID"
fi
log "subscription $(az account show --query '[name, id]' -o tsv | paste -sd ' ')"

# output prints one output of the deployment.
output() {
  az deployment group show -g "$rg" -n "$deployment" --query "properties.outputs.$1.value" -o tsv --only-show-errors
}

# retry runs a command up to three times: right after provisioning, a new identity's role
# assignments can take minutes to apply (publish fails with BlobUploadFailedException / 403).
retry() {
  local attempt=1
  until "$@"; do
    if ((attempt >= 3)); then
      return 1
    fi
    log "failed; retrying in 60 s (new role assignments can take minutes to apply)"
    sleep 60
    attempt=$((attempt + 1))
  done
}

# arm prints the Resource Manager endpoint of the current cloud, without a trailing slash.
arm() {
  local url
  url="$(az cloud show --query endpoints.resourceManager -o tsv)"
  printf '%s' "${url%/}"
}

# No resource provider is registered here. Flex Consumption needs Microsoft.App only for virtual
# network integration (its subnet delegation is Microsoft.App/environments; Learn, "Azure Functions
# Flex Consumption plan hosting", Considerations), and the templates have no virtual network.

# deployment_failed adds a hint when the output of `az deployment group create` (the file $1)
# shows a known cause that the template cannot fix.
deployment_failed() {
  if grep -q 'ResourceKindRequireAcceptTerms' "$1"; then
    cat >&2 <<'EOF'

deploy: this subscription has not accepted the Responsible AI notice for Face yet
  (ResourceKindRequireAcceptTerms). Accept it once: in the Azure portal, create a Face resource,
  tick the Responsible AI notice on its Basics tab and create it. Then run this script again.
  See docs/deploy.md, Prerequisites.
EOF
  fi
}

provision() {
  if ! az group show -n "$rg" --only-show-errors -o none 2>/dev/null; then
    if $what_if; then
      echo "deploy: resource group $rg does not exist; what-if changes nothing, so create it first (or run without --what-if)" >&2
      exit 1
    fi
    local location="${AZURE_LOCATION:?resource group $rg does not exist: set AZURE_LOCATION to create it}"
    log "creating resource group $rg in $location"
    az group create -n "$rg" -l "$location" --tags app=liveness-quicklink --only-show-errors -o none
  fi
  local args=(-g "$rg" -n "$deployment" --template-file infra/main.bicep
    --parameters @infra/main.parameters.json --only-show-errors)
  if ((${#bicep_params[@]} > 0)); then
    args+=(--parameters "${bicep_params[@]}")
  fi
  if $what_if; then
    log "what-if for infra/main.bicep in $rg"
    az deployment group what-if "${args[@]}"
    exit 0
  fi
  log "deploying infra/main.bicep to $rg (deployment $deployment)"
  # The output goes to a file first, so a known cause can be recognized; it is shown either way.
  local out status=0
  out="$(mktemp)"
  az deployment group create "${args[@]}" -o none >"$out" 2>&1 || status=$?
  cat "$out" >&2
  if ((status != 0)); then
    deployment_failed "$out"
    rm -f "$out"
    exit "$status"
  fi
  rm -f "$out"
}

# ensure_signing_key creates CALLBACK_SIGNING_KEYS once, through the ARM control plane (the
# deployer's Contributor rights suffice; no Key Vault data-plane role is needed). The key goes
# from /dev/urandom to a private temporary file to ARM: not on a command line, not in a
# deployment parameter, not on the screen. Later runs leave the secret alone, so rotations made
# with docs/deploy.md survive redeployments.
ensure_signing_key() {
  local vault_id secret url probe body
  vault_id="$(output keyVaultId)"
  secret="$(output signingKeysSecretName)"
  url="$(arm)${vault_id}/secrets/${secret}?api-version=2023-07-01"
  if probe="$(az rest --method get --url "$url" --only-show-errors -o none 2>&1)"; then
    log "signing keys: secret $secret exists; left as is"
    return
  fi
  if ! grep -qiE 'not ?found|404' <<<"$probe"; then
    echo "deploy: cannot read secret $secret's metadata: $probe" >&2
    exit 1
  fi
  log "signing keys: creating secret $secret (32 random bytes, base64)"
  body="$(mktemp)"
  chmod 600 "$body"
  # shellcheck disable=SC2064 # expand now: body is local.
  trap "rm -f '$body'" EXIT
  printf '{"properties":{"value":"%s","contentType":"CALLBACK_SIGNING_KEYS: comma-separated base64 HMAC keys; the first signs, all verify"}}' \
    "$(head -c 32 /dev/urandom | base64 | tr -d '\n')" >"$body"
  az rest --method put --url "$url" --body @"$body" --only-show-errors -o none
  rm -f "$body"
  trap - EXIT
}

# resolve_signing_keys makes App Service resolve the CALLBACK_SIGNING_KEYS Key Vault reference now,
# and waits until it has. On a first run the settings are written before the secret exists, and
# App Service retries a reference only every 24 hours or on a configuration change (Learn, "Use Key
# Vault references as app settings": rotation); the identity's Secrets User role can also take
# minutes to apply. An unresolved reference leaves the literal "@Microsoft.KeyVault(...)" in the
# setting, and the handler refuses to start.
resolve_signing_keys() {
  local app="$1" site status attempt
  site="$(arm)$(output keyVaultId | sed 's|/providers/.*||')/providers/Microsoft.Web/sites/$app/config/configreferences/appsettings"
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    status="$(az rest --method get --url "$site/CALLBACK_SIGNING_KEYS?api-version=2022-03-01" \
      --query properties.status -o tsv --only-show-errors 2>/dev/null || true)"
    if [[ "$status" == Resolved ]]; then
      log "signing keys: the app's Key Vault reference is resolved"
      return
    fi
    log "signing keys: Key Vault reference ${status:-not readable yet}; asking App Service to resolve it again ($attempt/10, 30 s apart)"
    az rest --method post --url "$site/refresh?api-version=2022-03-01" --only-show-errors -o none 2>/dev/null || true
    sleep 30
  done
  log "warning: the CALLBACK_SIGNING_KEYS Key Vault reference is still ${status:-unknown}; the app will not start until it resolves (docs/deploy.md, Troubleshooting)"
}

publish_func() {
  # Core Tools packs the folder itself; it needs to be told the worker runtime, which it reads
  # from local.settings.json (never published).
  local work
  work="$(mktemp -d)"
  cp -R "$app_dir"/. "$work"/
  printf '{"IsEncrypted":false,"Values":{"FUNCTIONS_WORKER_RUNTIME":"custom"}}\n' >"$work/local.settings.json"
  (cd "$work" && func azure functionapp publish "$1")
  rm -rf "$work"
}

publish_az() {
  az functionapp deployment source config-zip -g "$rg" -n "$1" --src "$app_zip" --only-show-errors -o none
}

publish() {
  local app="$1" with="${PUBLISH_WITH:-}"
  [[ -f "$app_zip" && -f "$app_dir/host.json" ]] || { echo "deploy: no $app_zip: run 'make package' first" >&2; exit 1; }
  if [[ -z "$with" ]]; then
    if command -v func >/dev/null; then with=func; else with=az; fi
  fi
  case "$with" in
    func) log "publishing $app_dir to $app with Core Tools"; retry publish_func "$app" ;;
    az) log "publishing $app_zip to $app (zip deploy)"; retry publish_az "$app" ;;
    *) echo "deploy: PUBLISH_WITH must be func or az" >&2; exit 2 ;;
  esac
}

# print_endpoints lists the HTTP functions from the package's function.json files.
print_endpoints() {
  local app="$1" base="$2" f name route methods auth
  printf '\nFunctions of %s:\n' "$app"
  for f in "$app_dir"/*/function.json; do
    # No package staged (--skip-publish before `make package`): nothing to list.
    [[ -f "$f" ]] || { printf '  (run make package to list them)\n'; break; }
    name="$(basename "$(dirname "$f")")"
    route="$(sed -n 's/.*"route": *"\([^"]*\)".*/\1/p' "$f" | head -n1)"
    if [[ -z "$route" ]]; then
      printf '  %-14s (timer)\n' "$name"
      continue
    fi
    methods="$(tr -d '\n ' <"$f" | sed -n 's/.*"methods":\[\([^]]*\)\].*/\1/p' | tr -d '"' | tr '[:lower:]' '[:upper:]')"
    auth="$(sed -n 's/.*"authLevel": *"\([^"]*\)".*/\1/p' "$f" | head -n1)"
    printf '  %-14s %-18s %s/api/%s   (auth: %s)\n' "$name" "${methods:-ANY}" "$base" "$route" "${auth:-function}"
  done
  cat <<EOF

Functions with auth 'function' need a key, sent as the x-functions-key header (or ?code=):
  az functionapp keys list -g $rg -n $app --query functionKeys.default -o tsv
  az functionapp function keys list -g $rg -n $app --function-name StartSession
Live list (after the host has synced its triggers):
  az functionapp function list -g $rg -n $app --query '[].{name:name, url:invokeUrlTemplate}' -o table
Smoke test:
  curl -fsS $base/api/health
EOF
}

if ! $skip_infra; then
  provision
fi
app="$(output appName)"
base="$(output baseUrl)"
[[ -n "$app" ]] || { echo "deploy: deployment $deployment in $rg has no appName output" >&2; exit 1; }
ensure_signing_key
resolve_signing_keys "$app"
if ! $skip_publish; then
  publish "$app"
fi
log "deployed $app: $base (events: topic $(output serviceBusTopic) on $(output serviceBusNamespace))"
print_endpoints "$app" "$base"
