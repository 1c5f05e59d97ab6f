#!/usr/bin/env bash
# Installs the real servers of the interop suite, pinned, and runs it:
# Apache httpd with mod_dav, nginx-light and its dav-ext module, lighttpd
# and its mod_webdav from Debian's packages (installed without starting
# their system services), pouchdb-server, Azurite and json-server from the
# npm registry, fake-gcs-server and gofakes3 (S3) from the Go module proxy
# (into interop/.servers). The tests start each server on a free loopback
# port and stop it by pid. A server that cannot be installed or started
# fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
servers=${INTEROP_SERVERS:-$root/interop/.servers}

if ! command -v apache2 >/dev/null 2>&1 || ! command -v nginx >/dev/null 2>&1 || [ ! -f /usr/lib/nginx/modules/ngx_http_dav_ext_module.so ] ||
  ! command -v lighttpd >/dev/null 2>&1 || [ ! -f /usr/lib/lighttpd/mod_webdav.so ]; then
  echo "installing apache2, nginx-light and its dav-ext module, lighttpd and its mod_webdav (Debian)"
  # Keep the packages' services from starting: the tests run their own.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends apache2 nginx-light libnginx-mod-http-dav-ext lighttpd lighttpd-mod-webdav >/dev/null
fi

if [ ! -x "$servers/node_modules/.bin/pouchdb-server" ] || [ ! -x "$servers/node_modules/.bin/azurite" ] || [ ! -x "$servers/node_modules/.bin/json-server" ]; then
  echo "installing pouchdb-server, azurite and json-server (npm)"
  mkdir -p "$servers"
  npm install --prefix "$servers" --no-audit --no-fund --loglevel=error pouchdb-server@4.2.0 azurite@3.35.0 json-server@0.17.4 >/dev/null
fi

if [ ! -x "$servers/bin/fake-gcs-server" ]; then
  echo "installing fake-gcs-server (Go module proxy)"
  GOBIN="$servers/bin" go install github.com/fsouza/fake-gcs-server@v1.56.1
fi

if [ ! -x "$servers/bin/gofakes3" ]; then
  echo "installing gofakes3 (Go module proxy)"
  GOBIN="$servers/bin" go install github.com/johannesboyne/gofakes3/cmd/gofakes3@v1.2.0
fi

cd interop
# The real servers under the history checker: seeds 1 to 3 of each
# (TestHistoriesOnRealServers), as the histories step runs concordtest.
HISTORIES_SEED=${HISTORIES_SEED:-1} HISTORIES_RUNS=${HISTORIES_RUNS:-3} \
  INTEROP_BIN="$servers/node_modules/.bin:$servers/bin" go test -count=1 -timeout 15m "$@" ./...
