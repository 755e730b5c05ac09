#!/usr/bin/env bash
# Build llama.cpp's `llama-server` (CPU only, static) from the llama.cpp source vendored in the
# llama-cpp-python sdist on PyPI, and install it to
#   ${LLMFLEET_CACHE:-$HOME/.cache/llmfleet}/llama-server-<ver>/llama-server
#
# Idempotent: a stamp file (version + sdist sha256 + cmake flags) makes re-runs instant.
# Takes ~4 min on 2 cores.  Installs cmake/g++/make with apt only if missing.
#
# Env:
#   LLMFLEET_CACHE                 cache root (default $HOME/.cache/llmfleet)
#   LLAMA_CPP_PYTHON_VERSION       sdist version (default 0.3.36)
#   LLAMA_CPP_PYTHON_SHA256        required when the version is overridden
#   LLAMA_BUILD_JOBS               parallel build jobs (default 2)
#   PYTHON                         interpreter whose pip downloads the sdist (default python3)
set -euo pipefail

CACHE="${LLMFLEET_CACHE:-$HOME/.cache/llmfleet}"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
PINNED_VERSION="0.3.36"
PINNED_SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
JOBS="${LLAMA_BUILD_JOBS:-2}"
PYTHON="${PYTHON:-python3}"

if [[ "$VERSION" == "$PINNED_VERSION" ]]; then
    SHA256="${LLAMA_CPP_PYTHON_SHA256:-$PINNED_SHA256}"
else
    SHA256="${LLAMA_CPP_PYTHON_SHA256:?LLAMA_CPP_PYTHON_VERSION=$VERSION is not pinned here: set LLAMA_CPP_PYTHON_SHA256}"
fi

CMAKE_FLAGS=(
    -DCMAKE_BUILD_TYPE=Release
    -DBUILD_SHARED_LIBS=OFF        # one self-contained binary we can copy out of the build tree
    -DGGML_NATIVE=OFF              # portable: runs on any x86-64 CI machine, not just the builder
    -DLLAMA_CURL=OFF
    -DLLAMA_OPENSSL=OFF            # no libssl-dev needed; we only serve plain HTTP on loopback
    -DLLAMA_BUILD_TESTS=OFF
    -DLLAMA_BUILD_EXAMPLES=OFF
    -DLLAMA_BUILD_SERVER=ON
    -DLLAMA_BUILD_APP=OFF
    -DLLAMA_BUILD_UI=OFF           # no npm build
    -DLLAMA_USE_PREBUILT_UI=OFF    # no download of web UI assets at build time (offline)
)

DEST="$CACHE/llama-server-$VERSION"
BIN="$DEST/llama-server"
STAMP="$DEST/.installed"
STAMP_CONTENT="llama-cpp-python==$VERSION sha256=$SHA256 flags=${CMAKE_FLAGS[*]}"

log() { printf '[build-llama-server] %s\n' "$*" >&2; }

# One installer at a time per program and version (parallel `make -j`, concurrent CI steps).
mkdir -p "$CACHE"
exec 9>"$CACHE/.llama-server-$VERSION.lock"
flock 9

if [[ -f "$STAMP" && -x "$BIN" && "$(cat "$STAMP")" == "$STAMP_CONTENT" ]] && "$BIN" --version >/dev/null 2>&1; then
    log "up to date: $BIN"
    echo "$BIN"
    exit 0
fi

# --- build prerequisites (apt only when something is missing) ---------------------------------
APT_UPDATED=0
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        log "missing $*, and apt-get is not available: install them by hand"; exit 1
    fi
    local sudo=""
    [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
    if [[ "$APT_UPDATED" -eq 0 ]]; then
        $sudo apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
}
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v make >/dev/null 2>&1 || need+=(make)
"$PYTHON" -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
if [[ ${#need[@]} -gt 0 ]]; then
    log "installing with apt: ${need[*]}"
    apt_install "${need[@]}"
fi

# --- fetch and verify the sdist ----------------------------------------------------------------
DL="$CACHE/downloads"
SDIST="$DL/llama_cpp_python-$VERSION.tar.gz"
mkdir -p "$DL"
verify() { echo "$SHA256  $1" | sha256sum --check --status; }
if [[ ! -f "$SDIST" ]] || ! verify "$SDIST"; then
    rm -f "$SDIST"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    # pip checks the hash itself (before running any build backend of the sdist).
    printf 'llama-cpp-python==%s --hash=sha256:%s\n' "$VERSION" "$SHA256" >"$tmp/req.txt"
    log "downloading llama-cpp-python==$VERSION sdist"
    "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: --require-hashes \
        -r "$tmp/req.txt" -d "$tmp" >&2
    mv "$tmp/llama_cpp_python-$VERSION.tar.gz" "$SDIST"
fi
if ! verify "$SDIST"; then
    log "sha256 mismatch for $SDIST (expected $SHA256)"; rm -f "$SDIST"; exit 1
fi

# --- build -------------------------------------------------------------------------------------
WORK="$CACHE/build/llama-cpp-python-$VERSION"
rm -rf "$WORK"
mkdir -p "$WORK"
log "extracting llama.cpp sources"
tar -xzf "$SDIST" -C "$WORK" --strip-components=1 "llama_cpp_python-$VERSION/vendor/llama.cpp"
SRC="$WORK/vendor/llama.cpp"
start=$(date +%s)
log "configuring (cmake ${CMAKE_FLAGS[*]})"
cmake -S "$SRC" -B "$WORK/build" "${CMAKE_FLAGS[@]}" >"$WORK/cmake-configure.log" 2>&1 \
    || { tail -n 40 "$WORK/cmake-configure.log" >&2; exit 1; }
log "building llama-server with -j$JOBS (takes a few minutes)"
cmake --build "$WORK/build" --target llama-server -j"$JOBS" >"$WORK/cmake-build.log" 2>&1 \
    || { tail -n 40 "$WORK/cmake-build.log" >&2; exit 1; }
log "built in $(( $(date +%s) - start )) s"

"$WORK/build/bin/llama-server" --version >&2 2>&1 || { log "built binary does not run"; exit 1; }

mkdir -p "$DEST"
install -m 0755 "$WORK/build/bin/llama-server" "$BIN.tmp"
mv -f "$BIN.tmp" "$BIN"
printf '%s\n' "$STAMP_CONTENT" >"$STAMP"
rm -rf "$WORK"
log "installed $BIN"
echo "$BIN"
