#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need. Safe to run again: it only calls
# apt-get when something is missing. Needs root or sudo.
set -euo pipefail

packages=(
  pkg-config ca-certificates curl python3 python3-yaml
  libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libcrypt-dev
  prometheus prometheus-alertmanager jsonnet wrk faketime
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
# The prometheus packages start services where systemd runs; the tests use their own ports anyway.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
