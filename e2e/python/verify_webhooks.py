"""Verifies webhooks Tally sent with the `standardwebhooks` package from PyPI, an
implementation independent of Tally's.

Usage: verify_webhooks.py SECRET FILE, where FILE holds a JSON list of {"headers", "body"} as a
receiver got them. Prints the verified events' types as a JSON list; exits 1 if any fails, or if
a tampered copy of the first one passes.
"""
import json
import sys

from standardwebhooks import Webhook

secret, path = sys.argv[1], sys.argv[2]
received = json.load(open(path, encoding="utf-8"))
webhook = Webhook(secret)
types = []
for r in received:
    headers = {k.lower(): v for k, v in r["headers"].items()}
    event = webhook.verify(r["body"], headers)
    types.append(event["type"])
try:
    first = received[0]
    webhook.verify(first["body"].replace("}", " }", 1), first["headers"])
    print("a tampered body passed verification", file=sys.stderr)
    sys.exit(1)
except Exception:
    pass
print(json.dumps(types))
