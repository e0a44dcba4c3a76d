#!/usr/bin/env bash
# Make sure headless Chromium is installed for the browser suite (e2e/, `make screenshots`).
# Installs Debian's `chromium` package when /usr/bin/chromium (or $CHROMIUM_PATH) is missing; that
# needs root (CI runs on a fresh clone as root). Otherwise it says what to install and fails, so
# `make test` never runs the browser suite without a browser.
set -euo pipefail

path="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$path" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: $path is missing and installing it needs root:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y chromium" >&2
  echo "  (or set CHROMIUM_PATH to a Chromium or Chrome binary)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $path is missing and this system has no apt-get; install Chromium and set CHROMIUM_PATH" >&2
  exit 1
fi
echo "ensure-chromium: installing Debian's chromium package" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
if [ ! -x "$path" ]; then
  echo "ensure-chromium: apt-get installed chromium but $path is still missing" >&2
  exit 1
fi
echo "ensure-chromium: installed $("$path" --version 2>/dev/null || echo chromium)" >&2
