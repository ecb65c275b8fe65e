#!/usr/bin/env bash
# Install Debian's chromium for the book's browser test (tests/test_book.py).
# Idempotent: does nothing if /usr/bin/chromium already exists.
# Needs root (or sudo) and the Debian apt mirrors; takes ~20 s.
# The test drives it with the *python* playwright package
# (executable_path=/usr/bin/chromium): no `playwright install` download is needed.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install_chromium.sh: need root or sudo to apt-get install chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
echo "installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
