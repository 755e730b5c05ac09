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
TOOL=build-llama-server
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # CACHE, PYTHON, log, lock_cache, apt_install, fetch_sdist, ...

VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
JOBS="${LLAMA_BUILD_JOBS:-2}"
# sha256 of the sdist: pinned for 0.3.36; any other version needs LLAMA_CPP_PYTHON_SHA256.
SHA256="$(pinned_sha256 "$VERSION" 0.3.36 832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e \
    "${LLAMA_CPP_PYTHON_SHA256:-}" LLAMA_CPP_PYTHON_VERSION LLAMA_CPP_PYTHON_SHA256)"

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

lock_cache "llama-server-$VERSION"
if stamp_matches "$STAMP" "$STAMP_CONTENT" && [[ -x "$BIN" ]] && "$BIN" --version >/dev/null 2>&1; then
    up_to_date "$BIN"
fi

# --- build prerequisites (apt only when something is missing) ---------------------------------
mapfile -t need < <(missing_packages cmake:cmake g++:g++ gcc:gcc make:make)
"$PYTHON" -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
((${#need[@]} == 0)) || apt_install "${need[@]}"

# --- fetch and verify the sdist ----------------------------------------------------------------
SDIST="$CACHE/downloads/llama_cpp_python-$VERSION.tar.gz"
fetch_sdist llama-cpp-python "$VERSION" "$SHA256" "$SDIST"

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
