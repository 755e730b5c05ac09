#!/usr/bin/env bash
# Install what the lab (fleetlab.hosts: real booted Debian hosts) needs on this machine:
#   mmdebstrap        builds the base image (Debian bookworm, minbase)
#   systemd-container systemd-nspawn, boots one container per lab host
#   nftables          the lab's own confining table (inet llmfleet_lab)
#   iproute2          network namespaces, veth pairs, routes
#   openssh-client    ssh / ssh-keygen (keys, readiness checks)
#   dpkg-dev          dpkg-scanpackages (the mirror's flat apt repository)
#   podman, runc, busybox-static   a Docker-compatible engine API for the container-state tests
#                     (no Docker engine runs here; podman serves the same API the docker SDK reads)
#   docker-registry   CNCF distribution 2.8 (a real Registry v2) for the Ollama registry-pull test
# Idempotent: installs only what is missing. Must run as root (the lab itself runs as root).
set -euo pipefail
TOOL=install-lab-tools
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # log, apt_install, missing_packages

if [[ $(id -u) -ne 0 ]]; then
    log "run as root (sudo bash $0)"
    exit 2
fi

mapfile -t need < <(missing_packages mmdebstrap:mmdebstrap systemd-nspawn:systemd-container nft:nftables ip:iproute2 \
    ssh:openssh-client ssh-keygen:openssh-client dpkg-scanpackages:dpkg-dev podman:podman runc:runc busybox:busybox-static \
    docker-registry:docker-registry)
if ((${#need[@]})); then
    apt_install "${need[@]}"
else
    log "all present"
fi
# The mirror's apt repository is computed from this machine's package lists: make sure they exist.
if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
    apt-get update -qq
fi
