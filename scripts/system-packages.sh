#!/usr/bin/env bash
# Debian packages the test suite uses, installed when missing (as root, with apt-get).
# Elsewhere it only says what is missing; the tests that need a package skip with the reason.
set -euo pipefail
needed=()
command -v systemd-analyze >/dev/null 2>&1 || needed+=(systemd)          # unit verify
command -v systemd-socket-activate >/dev/null 2>&1 || needed+=(systemd)  # socket activation
[ ${#needed[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${needed[@]}"
else
  echo "system-packages: missing ${needed[*]} (not root or no apt-get); their tests will skip" >&2
fi
