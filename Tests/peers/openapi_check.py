#!/usr/bin/env python3
"""Checks recorded BuzzBridge HTTP exchanges against its OpenAPI 3.1 document, independently of
the Swift code: openapi-spec-validator checks the document, openapi-core checks every response
(status documented for the operation, media type, body against the schema) and the request of
every successful exchange (a request the server accepted must be one the document allows).

    openapi_check.py OPENAPI_JSON [--require-coverage] [--events-db SQLITE] < exchanges.json

--require-coverage: every operation of the document must have been exercised.
--events-db: also check the webhook bodies the server stored for delivery (table `events`).

stdin: {"exchanges": [{"method", "path" (template, or null for an undocumented route), "url" (path
and query as sent), "status", "content_type", "headers" {name: value}, "body" (text), "request_headers" {name: value},
"request_body" (text or null)}], "webhooks": [{"event", "headers" {name: value}, "body" (text),
"secret" (to verify both signatures)}]}

Prints a summary on stdout; exits 1 listing every mismatch on stderr.
"""
import hashlib
import hmac
import json
import re
import sqlite3
import sys
from urllib.parse import parse_qsl, unquote, urlsplit

from jsonschema import Draft202012Validator
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_spec_validator import validate as validate_document

HOST = "http://127.0.0.1:8080"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# The spec's table "Common Error Codes", plus the codes it names for single endpoints (400).
SPEC_STATUS_OF_CODE = {
    "UNAUTHORIZED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "VALIDATION_ERROR": 400, "SESSION_INACTIVE": 400,
    "RATE_LIMIT_EXCEEDED": 429, "INTERNAL_ERROR": 500, "SERVICE_UNAVAILABLE": 503,
    "SESSION_ALREADY_ACTIVE": 400, "INVALID_PHONE_NUMBER": 400, "MESSAGE_TOO_LONG": 400,
}


def explain(error):
    """openapi-core wraps jsonschema errors a few levels deep; surface the concrete ones."""
    parts = [f"{type(error).__name__}: {error}"]
    seen = set()
    current = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for schema_error in getattr(current, "schema_errors", None) or []:
            where = "/".join(str(p) for p in schema_error.absolute_path) or "(root)"
            parts.append(f"  at {where}: {schema_error.message}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def template_regex(template):
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


def schema_validator(document, pointer):
    """A JSON Schema 2020-12 validator for `#/components/...` with the document's components."""
    return Draft202012Validator({"$ref": pointer, "components": document["components"]})


def main():
    arguments = sys.argv[1:]
    require_coverage = "--require-coverage" in arguments
    events_db = None
    if "--events-db" in arguments:
        at = arguments.index("--events-db")
        events_db = arguments[at + 1]
        del arguments[at:at + 2]
    paths = [a for a in arguments if not a.startswith("--")]
    if len(paths) != 1:
        sys.exit("usage: openapi_check.py OPENAPI_JSON [--require-coverage] [--events-db SQLITE] < exchanges.json")
    with open(paths[0], encoding="utf-8") as handle:
        document = json.load(handle)
    recorded = json.load(sys.stdin)
    problems = []

    try:
        validate_document(document)
    except Exception as error:  # the validator raises one error naming the first violation
        print(f"the document itself is invalid: {error}", file=sys.stderr)
        return 1
    if not str(document.get("openapi", "")).startswith("3.1."):
        problems.append(f"openapi is {document.get('openapi')!r}, expected 3.1.x")
    problems.extend(example_problems(document))

    openapi = OpenAPI.from_dict(document)
    envelope = schema_validator(document, "#/components/schemas/ErrorEnvelope")
    exercised = set()

    for number, exchange in enumerate(recorded.get("exchanges", []), 1):
        method, template, status = exchange["method"].lower(), exchange["path"], exchange["status"]
        url = urlsplit(exchange["url"])
        label = f"#{number} {method.upper()} {exchange['url']} → {status}"
        body = exchange["body"].encode("utf-8")
        content_type = exchange.get("content_type") or ""

        parsed = None
        if content_type.startswith("application/json"):
            try:
                parsed = json.loads(body)
            except ValueError as error:
                problems.append(f"{label}: body is not JSON ({error})")
                continue
        # Whatever the route, an error is the spec's envelope with the status its code stands for.
        if status >= 400:
            if parsed is None:
                problems.append(f"{label}: error response is not JSON (content type {content_type!r})")
                continue
            for error in envelope.iter_errors(parsed):
                problems.append(f"{label}: not the error envelope: {error.message}")
            code = (parsed.get("error") or {}).get("code") if isinstance(parsed, dict) else None
            if code in SPEC_STATUS_OF_CODE and SPEC_STATUS_OF_CODE[code] != status:
                problems.append(f"{label}: error code {code} belongs with HTTP {SPEC_STATUS_OF_CODE[code]}")

        if template is None:
            if any(template_regex(p).match(url.path) and method in document["paths"][p] for p in document["paths"]):
                problems.append(f"{label}: recorded as undocumented, yet the document has an operation for it")
            continue
        if template not in document["paths"] or method not in document["paths"][template]:
            problems.append(f"{label}: the document has no operation {method.upper()} {template}")
            continue
        if not template_regex(template).match(unquote(url.path)):
            problems.append(f"{label}: {url.path} does not match {template}")
            continue
        exercised.add((method, template))

        request = MockRequest(
            HOST, method, unquote(url.path), args=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=exchange.get("request_headers") or {},
            data=(exchange.get("request_body") or "").encode("utf-8") or None,
        )
        response = MockResponse(body, status_code=status, headers=exchange.get("headers") or {},
                                content_type=content_type.split(";")[0].strip())
        try:
            openapi.validate_response(request, response)
        except Exception as error:
            problems.append(f"{label}: response does not conform:\n{explain(error)}")
        # A request the server accepted must be one the document allows.
        if 200 <= status < 300:
            try:
                openapi.validate_request(request)
            except Exception as error:
                problems.append(f"{label}: accepted request that the document forbids:\n{explain(error)}")

    webhooks = list(recorded.get("webhooks", []))
    if events_db:
        webhooks += stored_events(events_db)
    for number, delivery in enumerate(webhooks, 1):
        problems.extend(check_webhook(document, number, delivery))

    if require_coverage:
        for template, item in document["paths"].items():
            for method in METHODS:
                if method in item and (method, template) not in exercised:
                    problems.append(f"not exercised: {method.upper()} {template}")

    if problems:
        print(f"{len(problems)} mismatch(es) with the OpenAPI document:", file=sys.stderr)
        for problem in problems:
            print(" - " + problem.replace("\n", "\n   "), file=sys.stderr)
        return 1
    print(json.dumps({"exchanges": len(recorded.get("exchanges", [])), "webhooks": len(webhooks),
                      "operations": len(exercised)}))
    return 0


def example_problems(document):
    """Every example in the document must be valid for the schema it illustrates."""
    problems = []

    def check(value, schema, where):
        validator = Draft202012Validator(dict(schema, components=document["components"]))
        for error in validator.iter_errors(value):
            problems.append(f"example at {where} does not match its schema: {error.message}")

    def walk(node, where):
        if isinstance(node, dict):
            schema = node.get("schema")
            if isinstance(schema, dict):  # a media type or a parameter
                if "example" in node:
                    check(node["example"], schema, where + "/example")
                for name, example in (node.get("examples") or {}).items():
                    if isinstance(example, dict) and "value" in example:
                        check(example["value"], schema, f"{where}/examples/{name}")
            elif isinstance(node.get("examples"), list):  # a schema with JSON Schema examples
                for index, value in enumerate(node["examples"]):
                    check(value, node, f"{where}/examples/{index}")
            for key, child in node.items():
                walk(child, f"{where}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{where}/{index}")

    walk({key: document[key] for key in ("paths", "webhooks", "components") if key in document}, "#")
    return problems


def stored_events(path):
    """The outbox: each row is a webhook body exactly as it will be sent and signed."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT type, payload FROM events ORDER BY seq").fetchall()
    finally:
        connection.close()
    return [{"event": kind, "body": bytes(payload).decode("utf-8"), "headers": {}} for kind, payload in rows]


def check_webhook(document, number, delivery):
    """A delivered (or stored) webhook: headers as documented, body against the event's schema."""
    problems = []
    event = delivery["event"]
    label = f"webhook #{number} {event}"
    operation = (document.get("webhooks", {}).get(event) or {}).get("post")
    if operation is None:
        return [f"{label}: the document has no webhook {event}"]
    try:
        body = json.loads(delivery["body"])
    except ValueError as error:
        return [f"{label}: body is not JSON ({error})"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator(dict(schema, components=document["components"]))
    for error in validator.iter_errors(body):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"{label}: body at {where}: {error.message}")
    headers = {name.lower(): value for name, value in (delivery.get("headers") or {}).items()}
    if headers:
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "header":
                continue
            value = headers.get(parameter["name"].lower())
            if value is None:
                if parameter.get("required"):
                    problems.append(f"{label}: header {parameter['name']} missing")
                continue
            for error in Draft202012Validator(parameter["schema"]).iter_errors(value):
                problems.append(f"{label}: header {parameter['name']}: {error.message}")
        if headers.get("x-buzzbridge-event") != body.get("event"):
            problems.append(f"{label}: X-BuzzBridge-Event {headers.get('x-buzzbridge-event')!r} is not the body's event {body.get('event')!r}")
    secret = delivery.get("secret")
    if secret is not None:
        raw = delivery["body"].encode("utf-8")
        key = secret.encode("utf-8")
        expected = "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("x-webhook-signature", ""), expected):
            problems.append(f"{label}: X-Webhook-Signature is not sha256=HMAC-SHA256(secret, raw body)")
        signed = f"{headers.get('x-buzzbridge-timestamp', '')}.{headers.get('x-buzzbridge-delivery', '')}.".encode("utf-8") + raw
        expected = "sha256=" + hmac.new(key, signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("x-buzzbridge-signature", ""), expected):
            problems.append(f"{label}: X-BuzzBridge-Signature is not sha256=HMAC-SHA256(secret, timestamp.delivery.body)")
    return problems


if __name__ == "__main__":
    sys.exit(main())
