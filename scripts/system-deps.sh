#!/usr/bin/env bash
# Debian packages the test suite needs: chromium (browser tests), PostgreSQL 15 (the
# production engine; its pg_dump/pg_restore serve the backup drill) and nginx with openssl
# (deploy/nginx.conf checked over https, tests/test_deploy_https.py). Installs what is
# missing when run as root; otherwise says what to do.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
[ -x /usr/sbin/nginx ] || need+=(nginx)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${need[*]}. Install them: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The tests start their own nginx and PostgreSQL: keep the packages from starting the
# system services (Debian's policy-rc.d convention), unless a policy is already in place.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" fonts-noto-cjk >/dev/null
