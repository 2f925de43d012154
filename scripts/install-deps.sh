#!/usr/bin/env bash
# Installs the Debian packages Escucha needs, when they are missing.
# Swift itself (6.x) must already be on PATH.
set -euo pipefail
# `--test` adds what only the tests need: Debian's chromium renders the HTML bulletin.
packages=(libpq-dev libicu-dev libcurl4-openssl-dev libncursesw5-dev postgresql tmux pkg-config)
[ "${1:-}" = "--test" ] && packages+=(chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "error: swift is not on PATH; install Swift 6 from swift.org first" >&2; exit 1; }
