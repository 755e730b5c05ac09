#!/usr/bin/env bash
# Install what the lab (llmfleet.lab.hosts: real booted Debian hosts) needs on this machine:
#   mmdebstrap        builds the base image (Debian bookworm, minbase)
#   systemd-container systemd-nspawn, boots one container per lab host
#   nftables          the lab's own confining table (inet llmfleet_lab)
#   iproute2          network namespaces, veth pairs, routes
#   openssh-client    ssh / ssh-keygen (keys, readiness checks)
#   dpkg-dev          dpkg-scanpackages (the mirror's flat apt repository)
# Idempotent: installs only what is missing. Must run as root (the lab itself runs as root).
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "install-lab-tools: run as root (sudo bash $0)" >&2
    exit 2
fi

need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v dpkg-scanpackages >/dev/null || need+=(dpkg-dev)

if ((${#need[@]})); then
    echo "install-lab-tools: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
    echo "install-lab-tools: all present" >&2
fi
# The mirror's apt repository is computed from this machine's package lists: make sure they exist.
if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
    apt-get update -qq
fi
