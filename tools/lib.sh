# Shared shell functions of the tools/*.sh installers. Source it after setting TOOL (the prefix
# of every log line):
#   TOOL=install-compose
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Nothing here runs on its own; every function is safe under `set -euo pipefail`.

# The program cache (LLMFLEET_CACHE) and the interpreter whose pip/venv the installers use.
CACHE="${LLMFLEET_CACHE:-$HOME/.cache/llmfleet}"
PYTHON="${PYTHON:-python3}"

# log MESSAGE...: one line on stderr, prefixed with [$TOOL].
log() { printf '[%s] %s\n' "${TOOL:-tools}" "$*" >&2; }

# pinned_sha256 VERSION PINNED_VERSION PINNED_SHA256 OVERRIDE VERSION_VAR SHA256_VAR: print the
# sha256 to verify: OVERRIDE or the pinned one for the pinned version; any other version needs an
# OVERRIDE (else a message naming both variables, and status 1).
pinned_sha256() {
    local version=$1 pinned_version=$2 pinned_sha256=$3 override=$4 version_var=$5 sha256_var=$6
    if [[ "$version" == "$pinned_version" ]]; then
        printf '%s\n' "${override:-$pinned_sha256}"
    elif [[ -n "$override" ]]; then
        printf '%s\n' "$override"
    else
        log "$version_var=$version is not pinned here: set $sha256_var"
        return 1
    fi
}

# lock_cache NAME: create $CACHE and hold $CACHE/.NAME.lock (fd 9) until the script exits:
# one installer at a time per program and version (parallel `make -j`, concurrent CI steps).
lock_cache() {
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.$1.lock"
    flock 9
}

# stamp_matches STAMP CONTENT: the stamp file exists and holds exactly CONTENT.
stamp_matches() { [[ -f "$1" && "$(cat "$1")" == "$2" ]]; }

# up_to_date BIN: say so, print BIN on stdout (what the Makefile reads) and exit 0.
up_to_date() {
    log "up to date: $1"
    echo "$1"
    exit 0
}

# apt_install PACKAGE...: install with apt (sudo when not root); `apt-get update` once per script.
APT_UPDATED=0
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        log "missing $*, and apt-get is not available: install them by hand"
        exit 1
    fi
    local sudo=""
    [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
    log "installing with apt: $*"
    if [[ "$APT_UPDATED" -eq 0 ]]; then
        $sudo apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
}

# missing_packages COMMAND:PACKAGE...: print (one a line, each once) the PACKAGE of every COMMAND
# that is not on PATH.
missing_packages() {
    local pair seen=" "
    for pair in "$@"; do
        if ! command -v "${pair%%:*}" >/dev/null 2>&1 && [[ "$seen" != *" ${pair#*:} "* ]]; then
            seen+="${pair#*:} "
            printf '%s\n' "${pair#*:}"
        fi
    done
}

# sha256_ok SHA256 FILE: FILE exists and has that sha256.
sha256_ok() { [[ -f "$2" ]] && echo "$1  $2" | sha256sum --check --status; }

# fetch_sdist REQUIREMENT VERSION SHA256 DEST: the sdist REQUIREMENT==VERSION from PyPI at DEST,
# verified against SHA256 (a DEST that already verifies is kept). pip checks the hash itself
# before it prepares anything of the sdist; the file is checked once more where it lands.
fetch_sdist() {
    local name=$1 version=$2 sha256=$3 dest=$4 tmp sdist
    mkdir -p "$(dirname "$dest")"
    if sha256_ok "$sha256" "$dest"; then
        return 0
    fi
    rm -f "$dest"
    tmp="$(mktemp -d)"
    printf '%s==%s --hash=sha256:%s\n' "$name" "$version" "$sha256" >"$tmp/req.txt"
    log "downloading $name==$version sdist"
    if ! "${PYTHON:-python3}" -m pip download --quiet --no-deps --no-binary :all: --require-hashes \
        -r "$tmp/req.txt" -d "$tmp" >&2; then
        rm -rf "$tmp"
        log "pip could not download $name==$version"
        return 1
    fi
    sdist="$(find "$tmp" -maxdepth 1 -name '*.tar.gz' -print -quit)"
    mv "$sdist" "$dest"
    rm -rf "$tmp"
    if ! sha256_ok "$sha256" "$dest"; then
        log "sha256 mismatch for $dest (expected $sha256)"
        rm -f "$dest"
        return 1
    fi
}
