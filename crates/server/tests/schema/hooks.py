"""Schemathesis hooks for latchkey's schema test (`main.rs` starts the
server and runs schemathesis with this file).

- Authentication: a resource server's secret for token introspection;
  elsewhere a web session of the admin, signed in again whenever a
  test case ends it (logout, a revoked session): schemathesis asks anew
  after any 401. The sign-in comes from its own forwarded address, so the
  fuzzer's wrong passwords from 127.0.0.1 never throttle it.
- `/auth/forward` takes a token in `Authorization`, not a session: each
  sign-in also makes a personal access token for it.
- Positive data: a schema-valid request is accepted, unless the server's
  *state* refuses it with one of the codes in STATE_REFUSALS. JSON Schema
  cannot say "in the future" or "a cursor this server issued"; everything
  it can say, the document says, and everything else is a failure.
"""

import os
import re
from datetime import datetime, timedelta, timezone

import requests
import schemathesis
from hypothesis import strategies as st

BASE = os.environ["LATCHKEY_URL"]
EMAIL = os.environ["LATCHKEY_EMAIL"]
PASSWORD = os.environ["LATCHKEY_PASSWORD"]
# A resource server's secret: token introspection's client authentication.
RESOURCE_SERVER = os.environ["LATCHKEY_RESOURCE_SERVER"]
# An address of the documentation range; the test server trusts 127.0.0.1
# as a proxy, so this is the sign-in's client address.
SIGN_IN_FROM = "203.0.113.7"


@schemathesis.auth()
class AdminSession:
    def get(self, case, ctx):
        r = requests.post(
            f"{BASE}/api/v1/login",
            json={"email": EMAIL, "password": PASSWORD},
            headers={"X-Forwarded-For": SIGN_IN_FROM},
            timeout=10,
        )
        r.raise_for_status()
        cookie, csrf = r.cookies["latchkey_session"], r.json()["results"]["csrfToken"]
        t = requests.post(
            f"{BASE}/api/v1/user/me/personal-access-tokens",
            json={"name": "schemathesis forward auth"},
            cookies={"latchkey_session": cookie},
            headers={"X-CSRF-Token": csrf},
            timeout=10,
        )
        t.raise_for_status()
        return {"cookie": cookie, "csrf": csrf, "token": t.json()["results"]["token"]}

    def set(self, case, data, ctx):
        if case.path == "/oauth2/introspect":
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {RESOURCE_SERVER}"}
            return
        case.cookies = {**(case.cookies or {}), "latchkey_session": data["cookie"]}
        case.headers = {**(case.headers or {}), "X-CSRF-Token": data["csrf"]}
        if case.path == "/auth/forward":
            case.headers["Authorization"] = f"Bearer {data['token']}"


# Expiry times a server would take: from an hour to 300 days ahead.
def _future_times():
    now = datetime.now(timezone.utc)
    return st.integers(min_value=3600, max_value=300 * 86400).map(
        lambda s: (now + timedelta(seconds=s)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


schemathesis.openapi.format("date-time", _future_times())

# Refusals that depend on what the server holds, or on the clock, not on
# the request's shape: (code, details.field, message), None matching any.
STATE_REFUSALS = [
    # An expiry must be in the future. The date-time strategy above draws
    # future times, but the stateful phase also reuses times from earlier
    # responses (a `createdAt` makes a fine-looking `expiresAt`).
    ("invalid_request", "expiresAt", "must be in the future"),
    # Only a cursor the server gave out is one.
    ("invalid_request", "cursor", "not a cursor this server gave out"),
    # A custom role, or a project, must exist in the caller's organization;
    # a service account's project rows name each project once (JSON Schema
    # cannot say "unique by one field").
    ("invalid_request", "customRoleUuid", "no such custom role in this organization"),
    ("invalid_request", "projects[].customRoleUuid", "no such custom role in this organization"),
    ("invalid_request", "projects[].projectUuid", "no such project in this organization"),
    ("invalid_request", "projects[].projectUuid", "this project is listed twice"),
    # A credential's expiry may only come earlier; a rotation needs one,
    # and an expired credential cannot be rotated.
    ("expiry_extension_not_allowed", None, None),
    ("rotation_requires_expiry", None, None),
    ("credential_expired", None, None),
    # A password change takes the account's current password, which no
    # schema can know.
    ("invalid_request", "currentPassword", "is not this account's password"),
]


# Rules between query parameters, which OpenAPI 3.1 cannot state for
# parameters (a body's schema could); the operation's description says them.
PARAMETER_RULES = [
    # `/auth/forward?project=` names the project a `scope` is needed on.
    ("invalid_request", "project", "needs scope"),
]


def _state_refusal(code, field, message):
    return any(
        c == code and f in (None, field) and m in (None, message)
        for c, f, m in STATE_REFUSALS + PARAMETER_RULES
    )


@schemathesis.check
def positive_data_accepted_unless_state_refuses(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 413, 422):
        return None
    try:
        error = response.json()["error"]
        code, message = error["code"], error["message"]
        field = (error.get("details") or {}).get("field")
        field = re.sub(r"\[\d+\]", "[]", field) if field else field
    except Exception:
        code, field, message = None, None, None
    if _state_refusal(code, field, message):
        return None
    raise AssertionError(f"schema-valid request refused with {response.status_code} {code}: {response.text[:300]}")
