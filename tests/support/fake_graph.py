"""A local stand-in for Meta's Graph API, enough of it for Custom Audiences: it checks every
request the ``facebook-business`` SDK makes the way Meta would (token, app secret proof,
schemas, digests only, at most 10,000 per request, additions POST and removals DELETE) and
keeps each audience's members, so a test can read back what the platform did.

A request it would refuse is answered as Meta answers (HTTP 400, error 100) and recorded in
``violations``; scripted ``failures`` answer the next requests instead (5xx, 429, 190...).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HEX64 = re.compile(r"[0-9a-f]{64}")
SCHEMAS = {"EMAIL_SHA256", "PHONE_SHA256"}
MAX_PER_REQUEST = 10_000
#: Longest request target accepted, as a front end in front of the Graph API would: a DELETE
#: carries its payload in the URL.
MAX_TARGET = 16_384


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    target_length: int

    @property
    def payload(self) -> dict:
        return json.loads(self.params.get("payload", "{}"))


@dataclass
class Failure:
    status: int
    code: int | None = None
    transient: bool = False
    body: str | None = None


@dataclass
class FakeGraph:
    access_token: str
    app_secret: str = ""
    account_id: str = "1234"
    requests: list[Request] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    #: audience id -> schema -> digests in the audience.
    audiences: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    created: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._next_id = 23850000000000
        graph = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                graph._handle(self, "POST", self.rfile.read(length).decode())

            def do_DELETE(self):
                length = int(self.headers.get("Content-Length") or 0)
                graph._handle(self, "DELETE", self.rfile.read(length).decode())

            def do_GET(self):
                graph._handle(self, "GET", "")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGraph:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def add_audience(self, audience_id: str) -> None:
        self.audiences[audience_id] = {schema: set() for schema in SCHEMAS}

    def users_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/users")]

    # -- the server side --

    def _handle(self, handler: BaseHTTPRequestHandler, method: str, body: str) -> None:
        split = urlsplit(handler.path)
        params = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        if body:
            params.update({k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()})
        request = Request(method, split.path, params, len(handler.path))
        with self._lock:
            self.requests.append(request)
            if len(handler.path) > MAX_TARGET:
                self.violations.append(f"request target of {len(handler.path)} bytes")
                return self._reply(handler, 414, "URI Too Long", raw=True)
            if self.failures:
                failure = self.failures.pop(0)
                if failure.body is not None:
                    return self._reply(handler, failure.status, failure.body, raw=True)
                return self._error(handler, failure.status, failure.code, failure.transient)
            problem = self._auth_problem(params)
            if problem:
                self.violations.append(problem)
                return self._error(handler, 400, 190)
            status, answer = self._route(method, split.path, params)
        self._reply(handler, status, json.dumps(answer))

    def _auth_problem(self, params: dict[str, str]) -> str | None:
        if params.get("access_token") != self.access_token:
            return "wrong or missing access token"
        if self.app_secret:
            proof = hmac.new(
                self.app_secret.encode(), self.access_token.encode(), hashlib.sha256
            ).hexdigest()
            if params.get("appsecret_proof") != proof:
                return "wrong or missing appsecret_proof"
        elif "appsecret_proof" in params:
            return "appsecret_proof without an app secret"
        return None

    def _route(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict]:
        match = re.fullmatch(r"/v\d+\.\d+/act_(\d+)/customaudiences", path)
        if match and method == "POST":
            if match.group(1) != self.account_id:
                self.violations.append("audience created in another ad account")
                return 400, _error_body(100)
            if params.get("subtype") != "CUSTOM" or not params.get("customer_file_source"):
                self.violations.append("not a customer-list audience")
                return 400, _error_body(100)
            self._next_id += 1
            audience_id = str(self._next_id)
            self.created.append({k: v for k, v in params.items() if k != "access_token"})
            self.add_audience(audience_id)
            return 200, {"id": audience_id}
        match = re.fullmatch(r"/v\d+\.\d+/(\d+)/users", path)
        if match and method in ("POST", "DELETE"):
            return self._users(method, match.group(1), params)
        self.violations.append(f"unexpected {method} {path}")
        return 400, _error_body(100)

    def _users(self, method: str, audience_id: str, params: dict[str, str]) -> tuple[int, dict]:
        if audience_id not in self.audiences:
            self.violations.append("users request for an unknown audience")
            return 400, _error_body(100)
        try:
            payload = json.loads(params["payload"])
        except (KeyError, ValueError):
            self.violations.append("no JSON payload")
            return 400, _error_body(100)
        schema, data = payload.get("schema"), payload.get("data")
        if schema not in SCHEMAS:
            self.violations.append(f"schema {schema!r}")
            return 400, _error_body(100)
        if not isinstance(data, list) or not data:
            self.violations.append("empty data")
            return 400, _error_body(100)
        if len(data) > MAX_PER_REQUEST:
            self.violations.append(f"{len(data)} entries in one request")
            return 400, _error_body(100)
        if not all(isinstance(d, str) and HEX64.fullmatch(d) for d in data):
            self.violations.append("a value that is not a SHA-256 hex digest")
            return 400, _error_body(100)
        members = self.audiences[audience_id][schema]
        if method == "POST":
            members.update(data)
        else:
            members.difference_update(data)
        return 200, {
            "audience_id": audience_id,
            "session_id": "1",
            "num_received": len(data),
            "num_invalid_entries": 0,
            "invalid_entry_samples": {},
        }

    def _error(self, handler, status: int, code: int | None, transient: bool = False) -> None:
        self._reply(handler, status, json.dumps(_error_body(code, transient)))

    @staticmethod
    def _reply(handler, status: int, text: str, raw: bool = False) -> None:
        payload = text.encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "text/plain" if raw else "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _error_body(code: int | None, transient: bool = False) -> dict:
    error: dict = {
        "message": f"(#{code}) refused by the fake",
        "type": "OAuthException",
        "is_transient": transient,
        "fbtrace_id": "AbCdEfFake",
    }
    if code is not None:
        error["code"] = code
    return {"error": error}
