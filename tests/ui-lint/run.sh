#!/bin/sh
# run.sh -- lint the web UI's modules (nginx/ui/js) with ESLint.  The
# linter and its two rule packages are pinned by package-lock.json here
# (fetched from the npm registry by `npm ci` at set-up time, never by the
# UI at run time) and kept out of nginx/ui so nginx never serves them.
set -eu
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
		--no-install-recommends nodejs npm
fi
if [ ! -x node_modules/.bin/eslint ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi
cd ../..
tests/ui-lint/node_modules/.bin/eslint --max-warnings 0 \
    --config tests/ui-lint/eslint.config.js nginx/ui/js
echo "ui-lint: nginx/ui/js clean"
