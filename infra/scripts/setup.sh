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
# sam build looks for python3.12 on PATH; the venv provides it.
[ -e "$venv/bin/python3.12" ] || ln -s python "$venv/bin/python3.12"
