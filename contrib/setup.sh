#!/bin/sh
# setup.sh -- install what is missing (Debian packages), then build.
# Used by run.sh and test.sh; safe to run repeatedly.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential autoconf automake libtool pkg-config libfcgi-dev
libjson-c-dev libgnutls28-dev libsqlite3-dev libpq-dev postgresql libcurl4-gnutls-dev nginx-light gnutls-bin
python3 python3-pytest python3-requests python3-cryptography curl
wrk openssl jq softhsm2
clang libclang-rt-14-dev
chromium chromium-driver python3-selenium fonts-dejavu-core
python3-prometheus-client"
# clang + libFuzzer runtime: the fuzz smoke (tests/fuzz/run.sh); chromium,
# its driver and selenium: the web UI's browser tests (tests/e2e/test_ui.py)
# python3-prometheus-client: test_metrics.py parses /v1/agent/metrics with it

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
		--no-install-recommends $missing
fi

if [ ! -x configure ] || [ configure.ac -nt configure ] ||
   [ Makefile.am -nt Makefile.in ]; then
	autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt config.status ]; then
	./configure ${CONFIGURE_FLAGS:-}
fi
make -j"$(nproc)"
