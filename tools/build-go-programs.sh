#!/usr/bin/env bash
# Build the Go programs llmfleet deploys (Headscale, Tailscale, Ollama) from their Go modules and
# install them into the version-keyed cache, laid out like the upstream release archives:
#   ${LLMFLEET_CACHE:-$HOME/.cache/llmfleet}/go-programs/<name>-<ver>/
#       headscale_<ver>_linux_amd64                        (Headscale ships one binary per release)
#       tailscale_<ver>_amd64.tgz  (tailscale_<ver>_amd64/{tailscale,tailscaled})
#       ollama-linux-amd64.tgz     (bin/ollama; CPU only, built with cgo)
#       SHA256SUMS                                        (sha256 of every file built)
#
# Ollama's module zip lacks the three header-only libraries its llama.cpp copy keeps under
# llama/llama.cpp/vendor/ (Go module zips drop every vendor/ folder): nlohmann/json, stb_image and
# miniaudio. They are taken from the llama.cpp tree inside the llama-cpp-python sdist on PyPI
# (sha256-pinned, the same file tools/build-llama-server.sh uses).
#
# Sources come only from the Go module proxy: the module's own h1: checksum is pinned below and
# every dependency is verified against the checksum database (GOSUMDB, served through the proxy).
# Idempotent: a stamp (version + module checksum + flags) makes re-runs instant.
#
# Usage: build-go-programs.sh [headscale] [headscale@VER] [headscale-lab] [tailscale] [ollama]
#   headscale        the default Headscale (GO_BUILDS)
#   headscale@VER    one older Headscale the lab starts (HEADSCALE_LAB_BUILDS), e.g. headscale@0.23.0
#   headscale-lab    every Headscale the lab starts (HEADSCALE_LAB_RELEASES: one per supported minor)
#   (default: headscale-lab tailscale ollama)
# Env:
#   LLMFLEET_CACHE     cache root (default $HOME/.cache/llmfleet)
#   PYTHON             interpreter that reads the pins from llmfleet.versions (default python3)
set -euo pipefail
TOOL=build-go-programs
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

command -v go >/dev/null 2>&1 || { log "go is not on PATH (Go 1.26 or newer needed)"; exit 1; }

# pin NAME FIELD [VERSION]: one field of a program's pin, read from the one version module.
pin() {
    (cd "$ROOT" && "$PYTHON" -c 'import sys; from llmfleet.versions import go_build_pin; print(go_build_pin(*sys.argv[1::2])[sys.argv[2]])' "$1" "$2" "${3:-}")
}

# headscale_lab_versions: every Headscale release the lab starts, oldest first.
headscale_lab_versions() {
    (cd "$ROOT" && "$PYTHON" -c 'from llmfleet.versions import headscale_lab_versions; print(" ".join(headscale_lab_versions()))')
}

# fetch_module TOOLCHAIN MODULE VERSION H1: download MODULE@VERSION through the proxy into the module
# cache and check its h1: checksum against the pin. Prints the module's extracted source folder.
fetch_module() {
    local toolchain=$1 module=$2 version=$3 h1=$4 json sum dir
    json="$(GOTOOLCHAIN="$toolchain" go mod download -json "$module@$version")" || { log "could not download $module@$version: $json"; return 1; }
    sum="$(printf '%s' "$json" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["Sum"])')"
    dir="$(printf '%s' "$json" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
    if [[ "$sum" != "$h1" ]]; then
        log "checksum mismatch for $module@$version: got $sum, pinned $h1"
        return 1
    fi
    printf '%s\n' "$dir"
}

# go_install TOOLCHAIN LDFLAGS PKG@VERSION...: `go install` into $GOBIN. The proxy may refuse a
# module's version list (which `go install pkg@v` reads to look for a deprecation notice); the
# module cache already holds the exact version, so it is consulted first as a file proxy.
go_install() {
    local toolchain=$1 ldflags=$2
    shift 2
    local modcache
    modcache="$(go env GOMODCACHE)"
    GOTOOLCHAIN="$toolchain" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
        GOPROXY="file://$modcache/cache/download,$(go env GOPROXY)" GONOSUMDB="${GONOSUMDB:-}" \
        nice -n 10 go install -trimpath -ldflags "$ldflags" "$@"
}

# verify_by_gosum TOOLCHAIN SRC MODULE@VERSION...: for dependencies the checksum database does not answer
# for (the proxy's sumdb lookup gives 404), download each through the proxy without asking the database
# and check its h1: against the go.sum inside the pinned module SRC (itself pinned by its own h1:).
# Prints the comma-separated module paths for GONOSUMDB.
verify_by_gosum() {
    local toolchain=$1 src=$2 spec path version want json sum paths=()
    shift 2
    for spec in "$@"; do
        path="${spec%@*}"; version="${spec#*@}"
        want="$(awk -v p="$path" -v v="$version" '$1 == p && $2 == v { print $3 }' "$src/go.sum")"
        [[ -n "$want" ]] || { log "$spec is not in $src/go.sum"; return 1; }
        json="$(GOTOOLCHAIN="$toolchain" GONOSUMDB="$path" go mod download -json "$spec")" || { log "could not download $spec: $json"; return 1; }
        sum="$(printf '%s' "$json" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["Sum"])')"
        [[ "$sum" == "$want" ]] || { log "checksum mismatch for $spec: got $sum, the pinned module's go.sum says $want"; return 1; }
        log "verified $spec against the pinned module's go.sum ($sum): the checksum database does not answer for it"
        paths+=("$path")
    done
    (IFS=,; printf '%s\n' "${paths[*]}")
}

# build_headscale [VERSION]: the default Headscale, or an older one the lab starts. 0.26 and older set
# their version through -X of a variable (the pin's version_var); 0.28+ read it from the build info.
build_headscale() {
    local v module=github.com/juanfont/headscale h1 toolchain dest stamp_content work var ldflags t0 src nosumdb unlisted
    v="$(pin headscale version "${1:-}")"; h1="$(pin headscale h1 "$v")"; toolchain="$(pin headscale toolchain "$v")"
    var="$(pin headscale version_var "$v")"
    dest="$CACHE/go-programs/headscale-$v"
    stamp_content="headscale v$v $h1 toolchain=$toolchain"
    lock_cache "headscale-$v"
    if stamp_matches "$dest/.installed" "$stamp_content" && [[ -x "$dest/headscale_${v}_linux_amd64" ]]; then
        log "up to date: $dest"; return 0
    fi
    t0=$SECONDS
    src="$(fetch_module "$toolchain" "$module" "v$v" "$h1")"
    read -r -a unlisted <<<"$(pin headscale sumdb_missing "$v")"
    nosumdb=""
    ((${#unlisted[@]} == 0)) || nosumdb="$(verify_by_gosum "$toolchain" "$src" "${unlisted[@]}")"
    work="$(mktemp -d)"
    log "building headscale $v (go install, CGO off; 3-6 min cold on 2 busy cores)"
    ldflags="-s -w"
    [[ -z "$var" ]] || ldflags+=" -X $var=v$v"
    GOBIN="$work" GONOSUMDB="$nosumdb" go_install "$toolchain" "$ldflags" "$module/cmd/headscale@v$v"
    "$work/headscale" version >&2
    "$work/headscale" version 2>&1 | grep -q "v$v" || { log "headscale $v reports another version: $("$work/headscale" version 2>&1 | head -1)"; return 1; }
    mkdir -p "$dest"
    install -m 0755 "$work/headscale" "$dest/headscale_${v}_linux_amd64"
    (cd "$dest" && sha256sum "headscale_${v}_linux_amd64" >SHA256SUMS)
    printf '%s\n' "$stamp_content" >"$dest/.installed"
    rm -rf "$work"
    log "installed $dest ($((SECONDS - t0)) s)"
}

build_tailscale() {
    local v module=tailscale.com h1 toolchain dest stamp_content work dir
    v="$(pin tailscale version)"; h1="$(pin tailscale h1)"; toolchain="$(pin tailscale toolchain)"
    dest="$CACHE/go-programs/tailscale-$v"
    stamp_content="tailscale v$v $h1 toolchain=$toolchain"
    lock_cache "tailscale-$v"
    if stamp_matches "$dest/.installed" "$stamp_content" && [[ -f "$dest/tailscale_${v}_amd64.tgz" ]]; then
        log "up to date: $dest"; return 0
    fi
    fetch_module "$toolchain" "$module" "v$v" "$h1" >/dev/null
    work="$(mktemp -d)"
    dir="$work/tailscale_${v}_amd64"
    mkdir -p "$dir"
    log "building tailscale + tailscaled $v (go install, CGO off; several minutes on 2 cores)"
    GOBIN="$dir" go_install "$toolchain" \
        "-s -w -X tailscale.com/version.shortStamp=$v -X tailscale.com/version.longStamp=$v" \
        "tailscale.com/cmd/tailscaled@v$v" "tailscale.com/cmd/tailscale@v$v"
    "$dir/tailscale" version >&2
    mkdir -p "$dest"
    (cd "$dir" && sha256sum tailscale tailscaled >"$work/SHA256SUMS.bin")
    # A reproducible archive: fixed owner, mode and mtime, sorted names.
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work" -czf "$dest/tailscale_${v}_amd64.tgz.tmp" "tailscale_${v}_amd64"
    mv -f "$dest/tailscale_${v}_amd64.tgz.tmp" "$dest/tailscale_${v}_amd64.tgz"
    { sed "s|  |  tailscale_${v}_amd64/|" "$work/SHA256SUMS.bin"; (cd "$dest" && sha256sum "tailscale_${v}_amd64.tgz"); } >"$dest/SHA256SUMS"
    printf '%s\n' "$stamp_content" >"$dest/.installed"
    rm -rf "$work"
    log "installed $dest"
}

build_ollama() {
    local v module=github.com/ollama/ollama h1 toolchain dest stamp_content work src sdist sdist_v sdist_sha
    v="$(pin ollama version)"; h1="$(pin ollama h1)"; toolchain="$(pin ollama toolchain)"
    sdist_v="$(pin ollama headers_sdist_version)"; sdist_sha="$(pin ollama headers_sdist_sha256)"
    dest="$CACHE/go-programs/ollama-$v"
    stamp_content="ollama v$v $h1 toolchain=$toolchain headers=llama-cpp-python==$sdist_v"
    lock_cache "ollama-$v"
    if stamp_matches "$dest/.installed" "$stamp_content" && [[ -f "$dest/ollama-linux-amd64.tgz" ]]; then
        log "up to date: $dest"; return 0
    fi
    mapfile -t need < <(missing_packages gcc:gcc g++:g++)
    ((${#need[@]} == 0)) || apt_install "${need[@]}"
    src="$(fetch_module "$toolchain" "$module" "v$v" "$h1")"
    sdist="$CACHE/downloads/llama_cpp_python-$sdist_v.tar.gz"
    fetch_sdist llama-cpp-python "$sdist_v" "$sdist_sha" "$sdist"
    work="$(mktemp -d)"
    cp -r "$src" "$work/ollama"
    chmod -R u+w "$work/ollama"
    local vendor="llama_cpp_python-$sdist_v/vendor/llama.cpp/vendor"
    tar -xzf "$sdist" -C "$work" "$vendor/nlohmann" "$vendor/stb" "$vendor/miniaudio"
    mkdir -p "$work/ollama/llama/llama.cpp/vendor"
    cp -r "$work/$vendor/nlohmann" "$work/$vendor/stb" "$work/$vendor/miniaudio" "$work/ollama/llama/llama.cpp/vendor/"
    mkdir -p "$work/pkg/bin"
    log "building ollama $v (cgo, CPU only; 15-30 min on 2 busy cores)"
    (cd "$work/ollama" && GOTOOLCHAIN="$toolchain" CGO_ENABLED=1 GOFLAGS=-buildvcs=false nice -n 10 \
        go build -trimpath -ldflags "-s -w -X $module/version.Version=$v" -o "$work/pkg/bin/ollama" .)
    "$work/pkg/bin/ollama" --version >&2 2>&1 || true
    mkdir -p "$dest"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/pkg" -czf "$dest/ollama-linux-amd64.tgz.tmp" bin
    mv -f "$dest/ollama-linux-amd64.tgz.tmp" "$dest/ollama-linux-amd64.tgz"
    { (cd "$work/pkg" && sha256sum bin/ollama); (cd "$dest" && sha256sum ollama-linux-amd64.tgz); } >"$dest/SHA256SUMS"
    printf '%s\n' "$stamp_content" >"$dest/.installed"
    rm -rf "$work"
    log "installed $dest"
}

programs=("$@")
((${#programs[@]})) || programs=(headscale-lab tailscale ollama)
for p in "${programs[@]}"; do
    case "$p" in
        headscale) build_headscale ;;
        headscale@*) build_headscale "${p#headscale@}" ;;
        headscale-lab) for v in $(headscale_lab_versions); do build_headscale "$v"; done ;;
        tailscale) build_tailscale ;;
        ollama) build_ollama ;;
        *) log "unknown program: $p"; exit 2 ;;
    esac
done
