#!/usr/bin/env bash
# Everything the test suite needs on a fresh Debian or Ubuntu machine: Debian's chromium
# and chromium-driver (the report tests render report.html in a real headless browser),
# installed with apt only when missing, then rima in editable mode with its test extras.
# Used by the README's test command and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing ${need[*]} with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
python -m pip install -q -e ".[dev]"
