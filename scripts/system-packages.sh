#!/usr/bin/env bash
# Debian packages the test suite uses, installed when missing (as root, with apt-get).
# Elsewhere it only says what is missing; the tests that need a package skip with the reason.
set -euo pipefail
PATH="$PATH:/usr/sbin:/sbin"
needed=()
command -v systemd-analyze >/dev/null 2>&1 || needed+=(systemd)          # unit verify
command -v systemd-socket-activate >/dev/null 2>&1 || needed+=(systemd)  # socket activation
# Kerberos (tests/test_winrm_kerberos.py): a KDC on loopback, its admin tool, kinit/klist,
# and the headers gssapi and krb5 (the kerberos extra) build against.
command -v krb5kdc >/dev/null 2>&1 || needed+=(krb5-kdc)
command -v kadmin.local >/dev/null 2>&1 || needed+=(krb5-admin-server)
command -v kinit >/dev/null 2>&1 || needed+=(krb5-user)
command -v krb5-config >/dev/null 2>&1 || needed+=(libkrb5-dev)
command -v cc >/dev/null 2>&1 || needed+=(gcc)
[ ${#needed[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  # noninteractive: krb5-config's questions take their defaults; the tests run their own KDC.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${needed[@]}"
else
  echo "system-packages: missing ${needed[*]} (not root or no apt-get); their tests will skip" >&2
fi
