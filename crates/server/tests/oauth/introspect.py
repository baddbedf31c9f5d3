"""A real OAuth client (authlib) introspecting tokens against latchkey.

Usage: introspect.py URL CLIENT_ID CLIENT_SECRET TOKEN...
Prints one JSON line per token: what authlib got back (status and body).
"""
import json
import sys

from authlib.integrations.requests_client import OAuth2Session

url, client_id, client_secret, *tokens = sys.argv[1:]
session = OAuth2Session(
    client_id,
    client_secret,
    token_endpoint_auth_method="client_secret_basic",
)
for token in tokens:
    resp = session.introspect_token(url, token=token, token_type_hint="access_token")
    print(json.dumps({"status": resp.status_code, "body": resp.json()}))
