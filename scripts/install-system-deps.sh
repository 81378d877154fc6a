#!/usr/bin/env bash
# What the test suite needs outside Python: Debian's Chromium and the axe-core npm package.
#
# Idempotent and quiet when everything is there (`make test` runs it every time). When
# something cannot be installed it warns and still exits 0: the browser tests then skip
# with a message saying what is missing. Browsers never come from `playwright install`.
set -uo pipefail
cd "$(dirname "$0")/.."

CHROMIUM_PACKAGE=chromium
LOG="$(mktemp -t lms-system-deps.XXXXXX)"
trap 'rm -f "$LOG"' EXIT

warn() {
  echo "install-system-deps: WARNING: $*" >&2
  echo "install-system-deps: the browser tests will be skipped." >&2
}

show_log() {
  tail -n 20 "$LOG" | sed 's/^/  | /' >&2
}

have_chromium() {
  command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]
}

install_chromium() {
  have_chromium && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    warn "Chromium is missing and apt-get is not available to install it."
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      warn "Chromium is missing and installing it needs root (apt-get install $CHROMIUM_PACKAGE)."
      return 0
    fi
  fi
  echo "install-system-deps: installing Debian's $CHROMIUM_PACKAGE (apt-get)..."
  # Only a missing package justifies refreshing the package lists.
  if ! "${sudo[@]}" apt-get update -qq >"$LOG" 2>&1; then
    warn "apt-get update failed."
    show_log
    return 0
  fi
  if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "$CHROMIUM_PACKAGE" fonts-dejavu-core >"$LOG" 2>&1; then
    warn "apt-get install $CHROMIUM_PACKAGE failed."
    show_log
    return 0
  fi
  have_chromium || warn "$CHROMIUM_PACKAGE was installed but no chromium binary was found."
}

# The axe-core version pinned in package.json, e.g. 4.14.1.
wanted_axe_version() {
  sed -n 's/.*"axe-core": *"\([^"]*\)".*/\1/p' package.json | head -n 1
}

# The version in the header of node_modules/axe-core/axe.min.js ("/*! axe v4.14.1 ...").
installed_axe_version() {
  local file=node_modules/axe-core/axe.min.js
  [ -f "$file" ] || return 0
  head -c 200 "$file" | sed -n 's/.*axe v\([0-9][0-9.a-z-]*\).*/\1/p' | head -n 1
}

install_axe() {
  local wanted
  wanted="$(wanted_axe_version)"
  if [ -n "$wanted" ] && [ "$(installed_axe_version)" = "$wanted" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    warn "axe-core $wanted is missing and npm is not available (apt-get install npm)."
    return 0
  fi
  echo "install-system-deps: installing axe-core $wanted into node_modules (npm ci)..."
  if ! npm ci --no-audit --no-fund --loglevel=error >"$LOG" 2>&1; then
    warn "npm ci failed."
    show_log
    return 0
  fi
  if [ "$(installed_axe_version)" != "$wanted" ]; then
    warn "npm ci ran but node_modules/axe-core/axe.min.js is not version $wanted."
  fi
}

install_chromium
install_axe
exit 0
