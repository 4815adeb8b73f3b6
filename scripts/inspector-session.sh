#!/usr/bin/env bash
# The README's Inspector session, run for real: the MCP Inspector's connection CLI `mcpdo`
# (in @modelcontextprotocol/inspector, pinned below) against `process-mcp serve --sandbox`
# over stdio, installed the way the client snippets install it (uvx, no dev tools).
# The Inspector's one-shot CLI (`inspector --cli`) refuses completion/complete; mcpdo
# sends it as `prompts/complete`. The daemon is private to this run and stopped at exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.cache/inspector"
if [[ ! -x "$dir/node_modules/.bin/mcpdo" ]]; then
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error \
        @modelcontextprotocol/inspector@2.12.0 >&2
fi
mcpdo="$dir/node_modules/.bin/mcpdo"
eval "$("$mcpdo" private)"
export MCP_INSPECTOR_SECRET_STORE=file
trap '"$mcpdo" daemon stop >/dev/null 2>&1 || true' EXIT
# A stdio client passes the server only a few variables; where reaching PyPI needs a
# custom CA bundle (as on our build machines), hand it to uvx too.
extra=()
if [[ -n "${SSL_CERT_FILE:-}" ]]; then extra=(-e "SSL_CERT_FILE=$SSL_CERT_FILE"); fi

show() { printf '$ mcpdo %s\n' "$*"; }
show connect @pm -- uvx --from . process-mcp serve --sandbox
"$mcpdo" --connection pm connect --cwd "$root" "${extra[@]}" -- uvx --from . process-mcp serve --sandbox 2>/dev/null
echo
for step in \
    "prompts/list" \
    "prompts/complete --complete-ref-type ref/prompt --complete-ref stuck_processes --complete-arg-name backend --complete-arg-value tal" \
    "prompts/complete --complete-ref-type ref/prompt --complete-ref stuck_processes --complete-arg-name template --complete-arg-value onb" \
    "prompts/complete --complete-ref-type ref/prompt --complete-ref status_report --complete-arg-name period --complete-arg-value last" \
    "prompts/get stuck_processes --prompt-args backend=tallyfy-sandbox template=Customer\ Onboarding days=21"; do
    eval "set -- $step"
    show "@pm $step"
    "$mcpdo" --connection pm "$@" 2>/dev/null
    echo
done
show disconnect @pm
"$mcpdo" disconnect pm >/dev/null 2>&1
