#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtual environment and use it from outside the
# checkout: migrate, load the demo, sign in, render pages and serve a static file. Catches
# templates, static files, migrations or demo content missing from the wheel.
#
#   bash scripts/check-wheel.sh       (or `make check-wheel`)
#
# PYTHON makes the fresh environment (default python3); BUILD_PYTHON builds the wheel
# (default .venv/bin/python, as `make install` sets it up).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
BUILD_PYTHON="${BUILD_PYTHON:-${ROOT}/.venv/bin/python}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/lms-check-wheel.XXXXXX")"
cleanup() { rm -rf "${WORK}"; }
trap cleanup EXIT

fail() {
  echo "check-wheel: FAILED: $*" >&2
  exit 1
}

echo "== Copy the source tree (tracked and untracked, not ignored) to ${WORK}/src"
# Building from a copy keeps build/ and *.egg-info out of the checkout, and stale files in
# an old build/ out of the wheel.
mkdir -p "${WORK}/src"
cd "${ROOT}"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' path; do [[ -e "${path}" ]] && printf '%s\0' "${path}"; done \
    | tar --null -T - -cf - | tar -xf - -C "${WORK}/src"
else
  tar --exclude=./.venv --exclude=./build --exclude='*.egg-info' --exclude=./node_modules \
    --exclude=./instance -cf - . | tar -xf - -C "${WORK}/src"
fi

echo "== Build the wheel"
"${BUILD_PYTHON}" -m pip wheel --quiet --no-deps --no-cache-dir -w "${WORK}/dist" "${WORK}/src"
shopt -s nullglob
wheels=("${WORK}"/dist/lms-*.whl)
shopt -u nullglob
[[ ${#wheels[@]} -eq 1 ]] || fail "expected one lms wheel in ${WORK}/dist, found ${#wheels[@]}"
WHEEL="${wheels[0]}"
echo "built $(basename "${WHEEL}")"

echo "== Install it into a fresh virtual environment"
VENV="${WORK}/venv"
"${PYTHON}" -m venv "${VENV}"
"${VENV}/bin/python" -m pip install --quiet "${WHEEL}"

echo "== Use it from ${WORK}/run, outside the checkout"
RUN="${WORK}/run"
mkdir -p "${RUN}"
cd "${RUN}"
# Only this run's settings: nothing from the caller's LMS_* variables or PYTHONPATH.
while IFS= read -r name; do unset "${name}"; done < <(compgen -e | grep '^LMS_' || true)
unset PYTHONPATH PYTHONHOME
export FLASK_APP=lms
export LMS_DATABASE_URL="sqlite:///${RUN}/lms.sqlite3"
export LMS_STORAGE_PATH="${RUN}/files"
export LMS_MAIL_BACKEND=memory
# The instance folder of an installed package is <venv>/var/lms-instance (Flask's rule),
# inside ${WORK}; the snippet below checks that.
export CHECK_WHEEL_WORK="${WORK}" CHECK_WHEEL_VENV="${VENV}"

"${VENV}/bin/flask" --app lms db upgrade || fail "flask db upgrade"
"${VENV}/bin/flask" --app lms seed-demo || fail "flask seed-demo"

"${VENV}/bin/python" - <<'PY' || fail "pages served by the installed wheel"
import os
import re
import sys
from pathlib import Path

import lms
from lms import create_app
from lms.demo.seed import DEMO_PASSWORD

work = Path(os.environ["CHECK_WHEEL_WORK"]).resolve()
venv = Path(os.environ["CHECK_WHEEL_VENV"]).resolve()
app = create_app()
# Everything must come from the wheel in the fresh environment, nothing from the checkout.
for what, path in {
    "lms": lms.__file__,
    "templates": os.path.join(app.root_path, app.template_folder),
    "migrations": app.extensions["migrate"].directory,
}.items():
    if not Path(path).resolve().is_relative_to(venv):
        sys.exit(f"FAIL {what} comes from {path}, not from the wheel installed in {venv}")
    print(f"ok   {what} from {path}")
if not Path(app.instance_path).resolve().is_relative_to(work):
    sys.exit(f"FAIL the instance folder {app.instance_path} is outside {work}")
print(f"ok   instance folder {app.instance_path}")


def check(response, status, what):
    if response.status_code != status:
        body = response.get_data(as_text=True)[:3000]
        sys.exit(f"FAIL {what}: answered {response.status_code}, expected {status}\n{body}")
    print(f"ok   {what}: {status}")
    return response


for email in ("trainee@example.org", "admin@example.org"):
    client = app.test_client()
    page = check(client.get("/account/login"), 200, "GET /account/login")
    field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page.get_data(as_text=True))
    token = field and re.search(r'value="([^"]+)"', field.group(0))
    if not token:
        sys.exit("FAIL no CSRF token in the sign-in form")
    signed_in = client.post(
        "/account/login",
        data={"csrf_token": token.group(1), "email": email, "password": DEMO_PASSWORD},
    )
    check(signed_in, 302, f"POST /account/login as {email}")
    # /dashboard sends anyone not signed in to the sign-in page, so 200 means signed in.
    check(client.get("/dashboard"), 200, f"GET /dashboard as {email}")

check(client.get("/no-such-page"), 404, "GET /no-such-page (the 404 template)")
check(client.get("/static/css/lms.css"), 200, "GET /static/css/lms.css")
PY

echo "check-wheel: OK ($(basename "${WHEEL}") installs and serves from outside the checkout)"
