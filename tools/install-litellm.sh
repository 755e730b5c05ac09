#!/usr/bin/env bash
# Install the real LiteLLM proxy into its own venv at
#   ${LLMFLEET_CACHE:-$HOME/.cache/llmfleet}/litellm-<ver>/   (binary: bin/litellm)
#
# `prisma` is installed alongside: without it a request with no key gets HTTP 500 instead of 401
# (LiteLLM's auth error path imports prisma; the official image ships it). `prometheus_client` too:
# a config with `callbacks: [prometheus]` makes the proxy exit at startup without it. Both are what
# deploy installs for a systemd-venv gateway (llmfleet/versions.py litellm_venv_requirements).
# Idempotent via a stamp file.  ~45 s and ~740 MB on a cold cache.
#
# Env:
#   LLMFLEET_CACHE      cache root (default $HOME/.cache/llmfleet)
#   LITELLM_VERSION     litellm version (default 1.106.2; newer 1.109.x backtracks badly on this index)
#   PRISMA_VERSION      prisma version (default 0.15.0)
#   PROMETHEUS_CLIENT_VERSION  prometheus_client version (default 0.26.0)
#   PYTHON              interpreter used to create the venv (default python3, needs >= 3.9)
set -euo pipefail
TOOL=install-litellm
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # CACHE, PYTHON, log, lock_cache, apt_install, ...

VERSION="${LITELLM_VERSION:-1.106.2}"
PRISMA="${PRISMA_VERSION:-0.15.0}"
PROM="${PROMETHEUS_CLIENT_VERSION:-0.26.0}"
VENV="$CACHE/litellm-$VERSION"
BIN="$VENV/bin/litellm"
STAMP="$VENV/.installed"
STAMP_CONTENT="litellm[proxy]==$VERSION prisma==$PRISMA prometheus_client==$PROM"

lock_cache "litellm-$VERSION"
if stamp_matches "$STAMP" "$STAMP_CONTENT" && [[ -x "$BIN" ]] && "$VENV/bin/python" -c '' 2>/dev/null; then
    up_to_date "$BIN"
fi

"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_install python3-venv

start=$(date +%s)
rm -rf "$VENV"
mkdir -p "$CACHE"
log "creating venv $VENV"
"$PYTHON" -m venv "$VENV"
log "installing litellm[proxy]==$VERSION prisma==$PRISMA prometheus_client==$PROM (about a minute)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "litellm[proxy]==$VERSION" "prisma==$PRISMA" "prometheus_client==$PROM" >&2

# Sanity check: the CLI runs and the proxy server module imports (catches missing extras).
LITELLM_LOCAL_MODEL_COST_MAP=True "$VENV/bin/python" -c 'import litellm.proxy.proxy_server, prisma, prometheus_client' >&2
"$VENV/bin/python" -m pip freeze --disable-pip-version-check >"$VENV/freeze.txt"
printf '%s\n' "$STAMP_CONTENT" >"$STAMP"
log "installed $BIN in $(( $(date +%s) - start )) s"
echo "$BIN"
