#!/usr/bin/env bash
# Creates the project's virtualenv on Python 3.12 (the Lambda runtime) and installs what the
# tools and tests need. Idempotent; called by every Makefile target through its stamp file.
set -euo pipefail
py_version="${1:-3.12.1}"
venv="${2:-.venv}"

find_python() {
  if command -v pyenv >/dev/null 2>&1 && PYENV_VERSION="$py_version" pyenv which python >/dev/null 2>&1; then
    PYENV_VERSION="$py_version" pyenv which python
  elif command -v python3.12 >/dev/null 2>&1; then
    command -v python3.12
  else
    echo "Python 3.12 is required (pyenv $py_version or python3.12 on PATH)" >&2
    exit 1
  fi
}

if [ ! -x "$venv/bin/python" ]; then
  "$(find_python)" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade "pip<26.3"
"$venv/bin/python" -m pip install --quiet -r requirements-dev.txt
# checkov (IaC scan, tests/infra/test_checkov.py) and schemathesis (the API against its OpenAPI
# document, tests/e2e/test_openapi_contract.py) in a venv of their own: their pins clash with
# aws-sam-cli's and cfn-lint's.
tools_venv="${venv}-tools"
if [ ! -x "$tools_venv/bin/python" ]; then
  "$(find_python)" -m venv "$tools_venv"
  "$tools_venv/bin/python" -m pip install --quiet --upgrade "pip<26.3"
fi
"$tools_venv/bin/python" -m pip install --quiet -r requirements-tools.txt
# sam build looks for python3.12 on PATH; the venv provides it.
[ -e "$venv/bin/python3.12" ] || ln -s python "$venv/bin/python3.12"

# The browser tests (tests/e2e/browser) and bench (bench/widget) drive Debian's Chromium with
# Playwright (pinned in requirements-dev.txt). `playwright install` would download a browser
# build from outside the package registries, so the system's Chromium is used instead.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Chromium (apt-get) for the browser tests..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium fonts-liberation >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && command -v apt-get >/dev/null 2>&1; then
    echo "installing Chromium (sudo apt-get) for the browser tests..." >&2
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation >/dev/null
  else
    echo "warning: /usr/bin/chromium is missing and cannot be installed here (needs root and" \
      "apt-get); the browser tests will fail until it is (or set AGENTHUB_CHROMIUM)" >&2
  fi
fi

# The shared L2 cache's tests and bench (tests/support/memcached.py, bench/cache.py) start a
# real memcached from Debian on a free loopback port; the package's own service is not used.
if [ ! -x /usr/bin/memcached ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing memcached (apt-get) for the shared-cache tests..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends memcached >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && command -v apt-get >/dev/null 2>&1; then
    echo "installing memcached (sudo apt-get) for the shared-cache tests..." >&2
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends memcached >/dev/null
  else
    echo "warning: /usr/bin/memcached is missing and cannot be installed here (needs root and" \
      "apt-get); the shared-cache tests will fail until it is (or set AGENTHUB_MEMCACHED)" >&2
  fi
fi
