#!/usr/bin/env bash
# Install everything the tests need and run them: the README's test command, and CI's.
#  - Debian's Chromium for the report's browser test (when run as root with apt-get; elsewhere
#    that one test skips and says why),
#  - a virtual environment in .venv with the CPU build of torch 2.13.0 and the test extra.
# Extra arguments go to pytest (e.g. scripts/test.sh -m slow).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "note: could not install chromium; the browser test of the report will be skipped"
  else
    echo "note: chromium is not installed; the browser test of the report will be skipped"
  fi
fi
python3 -m venv .venv
.venv/bin/pip install -q torch==2.13.0 -e ".[test]"
exec .venv/bin/python -m pytest "$@"
