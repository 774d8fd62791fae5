"""Schemathesis hooks for scripts/schemathesis.sh: checks that read this API's envelope.

Every answer of a route is HTTP 200 with a JSON envelope `{"errno": "<code>", "errmsg": "...",
"data": ...}`, success or failure (the iHome jQuery pages read `errno` in `success` callbacks), and
what never reaches a route is 404/413 (and locally 400/408) with `{"message": ...}`, as API
Gateway answers. Three built-in checks expect HTTP statuses instead; scripts/schemathesis.sh turns
them off and these checks say the same things in the envelope's terms:

- `negative_data_rejection` (invalid input answered 4xx)   -> `negative_data_envelope`
- `ignored_auth` (no or bad credentials answered 401/403)   -> `auth_envelope`
- `unsupported_method` (an undeclared method answered 405)  -> `undeclared_method_not_found`

and one strengthens `positive_data_acceptance`, which passes any 200 and so says nothing here:

- `positive_data_envelope`: valid input reaches its route (HTTP 200, an envelope) and is never
  refused for a rule the schema itself states.

Two more hooks let generated requests get past the captcha, the SMS code, the login and the
password asked again, so that the stateful phase reaches the routes behind them with a live
session (otherwise every profile route would only ever answer SESSIONERR):

- the inbox: a valid request that carries a captcha (`id` + `text` in the query) or an SMS code
  (`mobile` + `sms_code` in a JSON body; a reset code, whose text says 重置密码, where the
  operation's id or path says "reset": POST /password/reset) gets the answer the local server
  wrote to its outbox (`captcha.jsonl`, `sms.jsonl` in the data directory named by
  SCHEMATHESIS_IHOME_DATA), as a person would read it off the picture or the phone. A third of
  the valid resets are made for an account known to exist, with a reset code asked for it
  (`GET /smscode/{mobile}?purpose=reset`), since a reset code is sent to no other mobile;
- the cookie jar: a request to an operation with `security` is sent with the session cookie the
  last register or login set, as a browser sends it along the links (register -> login ->
  profile ...): in the examples, coverage and stateful phases always, instead of the credentials
  Schemathesis drew at random; in the fuzzing phase when the request has none of its own. So
  bodies and parameters reach the route's own checks rather than all answering SESSIONERR. Any
  success that clears the cookie (logout, logging out everywhere, a reset, the account deleted)
  empties the jar, and so does a SESSIONERR answer to its session (ended by a new password's
  other request, a reset, ...) or a login lock on its account (REQERR from a route asking for
  the password again); with none, the hook registers an account the way a person would;
- the accounts: the password of every account seen registered, logged in, given a new password
  (PUT /user/password) or reset is remembered (a deletion forgets it), and half the valid
  requests that ask for the password again (PUT /user/password `old_password`, DELETE /user
  `password`) with the jar's session are sent with its account's password, so that these routes
  succeed now and then instead of only ever answering PWDERR.

Loaded by Schemathesis through SCHEMATHESIS_HOOKS; pinned with it (scripts/requirements-schemathesis.txt).
"""

from __future__ import annotations

import json
import os
import random
import re
import zlib
from typing import Any

import requests
import schemathesis
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.generation.meta import REQUEST_SHAPE_PROBES, CoveragePhaseData, CoverageScenario
from schemathesis.specs.openapi import checks as openapi_checks

# A session token as the server parses it (docs/api.md, Sessions): `<user_id>.<43 base64url>`.
TOKEN = re.compile(r"^[1-9][0-9]{0,15}\.[A-Za-z0-9_-]{43}$")

# PARAMERR messages that valid input must never get: each refuses a request format or a rule the
# schema states exactly (JSON body, multipart body, `Mobile`, `ImageCodeId`, `sms_code`, the
# password's 8 characters). Rules the schema cannot state (a password's 72 *bytes*, `password2`
# equal to `password`, blank counted as missing, name scripts, the ID checksum, real-name letters,
# image bytes) may still refuse schema-valid input.
NEVER_FOR_VALID_INPUT = frozenset(
    {
        "请求格式错误，应为 application/json",
        "请求数据过大",
        "请求数据不是有效的UTF-8文本",
        "请求数据不是有效的JSON对象",
        "参数格式错误",
        "请求格式错误，应为 multipart/form-data",
        "上传数据格式错误",
        "只能上传一张图片",
        "手机号格式错误",
        "图片验证码编号格式错误",
        "短信验证码格式错误",
        "密码长度不能少于8个字符",
    }
)

# Operations already shown to refuse a request once its credentials are taken away.
_AUTH_CONFIRMED: set[str] = set()


def _errno_enum(case) -> list[str]:
    """The `Errno` enum of the schema under test (components/schemas/Errno)."""
    return case.operation.schema.raw_schema["components"]["schemas"]["Errno"]["enum"]


def _is_probe(case) -> bool:
    """Coverage probes malformed on purpose (undeclared method, broken Content-Type)."""
    meta = case.meta
    return (
        meta is not None
        and isinstance(meta.phase.data, CoveragePhaseData)
        and meta.phase.data.scenario in REQUEST_SHAPE_PROBES
    )


def _media_type(response) -> str:
    values = response.headers.get("content-type") or [""]
    return values[0].split(";")[0].strip().lower()


def _show(response) -> str:
    body = response.content[:300].decode("utf-8", "replace")
    return f"HTTP {response.status_code} {_media_type(response) or '(no Content-Type)'}: {body}"


def _envelope(case, response) -> dict[str, Any]:
    """The response as an envelope: HTTP 200, JSON, `errno` from the enum, `errmsg` a string."""
    if response.status_code != 200 or _media_type(response) != "application/json":
        raise AssertionError(f"Not an envelope (HTTP 200, application/json)\n{_show(response)}")
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"Envelope is not JSON\n{_show(response)}") from None
    if (
        not isinstance(body, dict)
        or not set(body) <= {"errno", "errmsg", "data"}
        or body.get("errno") not in _errno_enum(case)
        or not isinstance(body.get("errmsg"), str)
    ):
        raise AssertionError(f"Not an envelope with an errno of the enum\n{_show(response)}")
    return body


def _outside_envelope(response, statuses: tuple[int, ...]) -> bool:
    """An answer from before any route: one of `statuses`, body `{"message": "<text>"}`."""
    if response.status_code not in statuses:
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("message"), str)


def _negation_reaches_server(ctx, response, case) -> bool:
    """Whether the built-in `negative_data_rejection` would judge this case at all.

    It skips negations that do not survive serialization (a wrong type that reads the same as
    text, an extra query parameter, ...). Asked with no status accepted, it raises exactly for the
    cases it would judge, so this check judges the same cases, by the envelope instead.
    """

    class NothingAccepted:
        expected_statuses: list[str] = []

    class Config:
        negative_data_rejection = NothingAccepted()

    class Shim:
        config = Config()
        internals = ctx.internals

    try:
        openapi_checks.negative_data_rejection(Shim(), response, case)
    except AcceptedNegativeData:
        return True
    return False


@schemathesis.check
def negative_data_envelope(ctx, response, case):
    """Invalid input is refused: an envelope with an errno other than "0" (or, for input that
    never reaches a route, such as an empty path segment or a body over the platform's limit, the
    platform's 404/413/400 with `{"message"}`). Input is excused from being refused only where
    Schemathesis's own `negative_data_rejection` would excuse it (its invalid part did not survive
    serialization: an extra query parameter, a wrong type that reads the same as text, ...)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative or _is_probe(case):
        return None
    if response.status_code != 200:
        if _outside_envelope(response, (400, 404, 413)):
            return None
        raise AssertionError(f"Invalid input answered neither an envelope nor 404/413/400 {{message}}\n{_show(response)}")
    if _media_type(response) == "image/png":
        accepted = True
    else:
        accepted = _envelope(case, response)["errno"] == "0"
    if accepted and _negation_reaches_server(ctx, response, case):
        raise AssertionError(f"Invalid input accepted\n{_show(response)}")
    return None


def _declares_security(case) -> bool:
    raw = case.operation.definition.raw
    security = raw.get("security", case.operation.schema.raw_schema.get("security"))
    return bool(security) and {} not in security


def _token_sent(request) -> str | None:
    """The token the server reads from a request (docs/api.md, Sessions), if well-formed."""
    authorization = request.headers.get("Authorization")
    if authorization is not None and authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
        return token if TOKEN.match(token) else None
    for part in (request.headers.get("Cookie") or "").split(";"):
        name, _, value = part.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if name.strip() == "session" and TOKEN.match(value):
            return value
    return None


def _without_credentials(request):
    probe = request.copy()
    for name in ("Authorization", "Cookie"):
        probe.headers.pop(name, None)
    return probe


@schemathesis.check
def auth_envelope(ctx, response, case):
    """An operation with `security` answers SESSIONERR "4101" without a well-formed token, whatever
    else the request holds; and one that succeeded with a token answers "4101" once the token is
    taken away (probed once per operation)."""
    if not _declares_security(case) or _is_probe(case) or response.status_code != 200:
        return None
    body = _envelope(case, response)
    if _token_sent(response.request) is None:
        if body["errno"] != "4101":
            raise AssertionError(f'No well-formed session token, yet errno is not "4101"\n{_show(response)}')
        return None
    label = case.operation.label
    if body["errno"] != "0" or label in _AUTH_CONFIRMED:
        return None
    with requests.Session() as session:
        probe = session.send(_without_credentials(response.request), timeout=10)
    try:
        answer = probe.json()
    except ValueError:
        answer = None
    if probe.status_code != 200 or not isinstance(answer, dict) or answer.get("errno") != "4101":
        raise AssertionError(
            "Succeeded with a session token; without it the answer is not SESSIONERR \"4101\"\n"
            f"HTTP {probe.status_code}: {probe.content[:300].decode('utf-8', 'replace')}"
        )
    _AUTH_CONFIRMED.add(label)
    return None


@schemathesis.check
def undeclared_method_not_found(ctx, response, case):
    """A method the schema does not declare for a path is 404 `{"message": "Not Found"}`, as API
    Gateway's HTTP API answers a route it does not have (and OPTIONS without CORS), not 405."""
    meta = case.meta
    if (
        meta is None
        or not isinstance(meta.phase.data, CoveragePhaseData)
        or meta.phase.data.scenario != CoverageScenario.UNSPECIFIED_HTTP_METHOD
    ):
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if response.status_code != 404 or body != {"message": "Not Found"}:
        raise AssertionError(
            f'Undeclared method {response.request.method} not answered 404 {{"message": "Not Found"}}\n{_show(response)}'
        )
    return None


@schemathesis.check
def positive_data_envelope(ctx, response, case):
    """Valid input reaches its route: HTTP 200 with an envelope (or the captcha PNG), and it is
    never refused for a request format or a rule the schema states exactly."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or _is_probe(case):
        return None
    if response.status_code == 200 and _media_type(response) == "image/png":
        return None
    body = _envelope(case, response)
    if body["errno"] == "4103" and body["errmsg"] in NEVER_FOR_VALID_INPUT:
        raise AssertionError(f"Schema-valid input refused as malformed\n{_show(response)}")
    return None


# ------------------------------------------------------------------ the inbox and the cookie jar

_INBOX = os.environ.get("SCHEMATHESIS_IHOME_DATA")
_SMS_CODE = re.compile(r"验证码是([0-9]{6})")
# The session cookie the last register or login set; cleared by a logout (or any other success
# that clears the cookie) and by a SESSIONERR answer to it.
_JAR: dict[str, str] = {}
# The accounts known to exist, mobile -> password as last set (by a registration, a login, a new
# password or a reset seen to succeed; a deletion seen to succeed forgets it), and the mobile of
# the jar's session when known. So the routes that ask for the password again (PUT
# /user/password, DELETE /user) and the reset (POST /password/reset) can be given a right one,
# as a person would type it, and get past their own checks to a success now and then.
_ACCOUNTS: dict[str, str] = {}
_JAR_ACCOUNT: dict[str, str] = {}
# A registered account's password: 8 characters or more, as registration asks.
_PASSWORD = "fuzz-password"


def _last_line_where(filename: str, matches) -> dict | None:
    if not _INBOX:
        return None
    try:
        with open(os.path.join(_INBOX, filename), encoding="utf-8") as f:
            lines = f.readlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if matches(entry):
            return entry
    return None


def _is_positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


def _operation_id(case) -> str:
    return case.operation.definition.raw.get("operationId") or ""


def _operation_path(case, operation_id: str) -> str | None:
    for path, item in case.operation.schema.raw_schema["paths"].items():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return path
    return None


def _is_reset(case) -> bool:
    """An operation that takes a password-reset code (`POST /password/reset`, whose code comes
    from `GET /smscode/{mobile}?purpose=reset`) rather than a registration code: its operationId
    or path says "reset"."""
    return "reset" in _operation_id(case).lower() or "reset" in case.operation.path.lower()


def _sms_code(mobile: str, reset: bool) -> str | None:
    """The last code of that purpose the outbox has for `mobile` (reset texts say 重置密码)."""
    sent = _last_line_where(
        "sms.jsonl",
        lambda e: e.get("phone_number") == "+86" + mobile and ("重置密码" in e.get("message", "")) == reset,
    )
    found = _SMS_CODE.search(sent.get("message", "")) if sent is not None else None
    return found.group(1) if found is not None else None


def _ask_for_sms_code(case, mobile: str, reset: bool = False) -> str | None:
    """Draw a captcha, read its answer and ask for an SMS code to `mobile`, as a person would on
    the register (or reset) page; the code as the outbox has it, if one was sent (a reset code is
    sent only to a mobile that has an account)."""
    captcha_path, sms_path = _operation_path(case, "imageCode"), _operation_path(case, "smsCode")
    if captcha_path is None or sms_path is None:
        return None
    base = case.operation.schema.get_base_url()
    _ASKED[0] += 1
    captcha_id = f"fuzz-{_ASKED[0]}"
    with requests.Session() as session:
        session.get(base + captcha_path.replace("{image_code_id}", captcha_id), timeout=10)
        drawn = _last_line_where("captcha.jsonl", lambda e: e.get("id") == captcha_id)
        if drawn is None:
            return None
        query = {"id": captcha_id, "text": drawn["text"]}
        if reset:
            query["purpose"] = "reset"
        session.get(base + sms_path.replace("{mobile}", mobile), params=query, timeout=10)
    return _sms_code(mobile, reset)


_ASKED = [0]
# Not the `random` module's state, which Hypothesis seeds for every test case.
_RANDOM = random.SystemRandom()


def _register(case) -> str | None:
    """A new account with a random mobile, registered as a person would; its session token (and
    the account is the jar's)."""
    path = _operation_path(case, "register")
    mobile = "1" + _RANDOM.choice("3456789") + "".join(_RANDOM.choice("0123456789") for _ in range(9))
    code = _ask_for_sms_code(case, mobile) if path is not None else None
    if code is None:
        return None
    body = {"mobile": mobile, "sms_code": code, "password": _PASSWORD}
    with requests.Session() as session:
        answer = session.post(case.operation.schema.get_base_url() + path, json=body, timeout=10)
    token = answer.cookies.get("session")
    if token is None or not TOKEN.match(token):
        return None
    _ACCOUNTS[mobile] = _PASSWORD
    _JAR_ACCOUNT.clear()
    _JAR_ACCOUNT["mobile"] = mobile
    return token


def _own_credentials(case) -> bool:
    headers = case.headers or {}
    return "Authorization" in headers or "Cookie" in headers or "session" in (case.cookies or {})


def _one_in(case, n: int, salt: str) -> bool:
    """A fixed choice per case (its id), independent for each `salt`."""
    return zlib.crc32((salt + case.id).encode()) % n == 0


def _give_known_account(case) -> None:
    """For a third of the valid resets: a known account's mobile and a fresh reset code for it,
    as its owner would ask for one. Otherwise a reset only ever meets mobiles without an account
    (a reset code is sent to no one else: DATAERR) and never succeeds."""
    body = case.body
    if not _ACCOUNTS or not isinstance(body, dict) or not isinstance(body.get("mobile"), str):
        return
    if not _one_in(case, 3, "reset"):
        return
    mobile = _RANDOM.choice(sorted(_ACCOUNTS))
    # Within the 1 s gap no new code is sent: the last one (perhaps used) is all there is.
    code = _ask_for_sms_code(case, mobile, reset=True) or _sms_code(mobile, reset=True)
    case.body = {**body, "mobile": mobile, **({"sms_code": code} if code is not None else {})}


# The field that holds the password asked again, by operation.
_PASSWORD_FIELD = {"changePassword": "old_password", "deleteUser": "password"}


def _give_known_password(case) -> None:
    """For a valid request to a route that asks for the password again, sent with the jar's
    session: the account's password as last set, for every other case (the rest keep the one
    drawn, which is wrong and counts as a failed attempt)."""
    field = _PASSWORD_FIELD.get(_operation_id(case))
    body = case.body
    if field is None or not isinstance(body, dict) or not _one_in(case, 2, "password"):
        return
    password = _ACCOUNTS.get(_JAR_ACCOUNT.get("mobile", ""))
    if password is None or "session" not in _JAR or (case.cookies or {}).get("session") != _JAR["session"]:
        return
    if any(name.lower() in ("authorization", "cookie") for name in case.headers or {}):
        return
    case.body = {**body, field: password}


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.meta is None:
        return
    stateful = case.meta.phase.name == "stateful"
    if _is_positive(case):
        query = case.query
        if isinstance(query, dict) and isinstance(query.get("id"), str) and "text" in query:
            drawn = _last_line_where("captcha.jsonl", lambda e: e.get("id") == query["id"])
            if drawn is not None:
                case.query = {**query, "text": drawn["text"]}
        body = case.body
        if isinstance(body, dict) and isinstance(body.get("mobile"), str) and "sms_code" in body:
            reset = _is_reset(case)
            if reset:
                _give_known_account(case)
                body = case.body
            mobile = body["mobile"].strip()
            code = _sms_code(mobile, reset)
            # No phase draws a captcha and asks for a code to the mobile it then registers (the
            # stateful phase never starts at the captcha: a GET with a path parameter is no root
            # for it), so the code is asked for here as the register page would: always in the
            # stateful phase, for every other case elsewhere (the rest keep their drawn code).
            if code is None and (stateful or zlib.crc32(case.id.encode()) % 2 == 0):
                code = _ask_for_sms_code(case, mobile, reset)
            if code is not None:
                case.body = {**body, "sms_code": code}
    if not _declares_security(case):
        return
    if case.meta.phase.name in ("examples", "coverage", "stateful"):
        # These phases send every request with credentials drawn at random, so none of their
        # bodies and parameters would get past SESSIONERR. A link "with the session just set"
        # means the browser's cookie jar, and the coverage phase's boundary values are meant for
        # the route's own checks: the jar's session replaces the drawn credentials (the fuzzing
        # phase keeps them, and `auth_envelope` judges every answer to them).
        if case.headers:
            for name in ("Authorization", "Cookie"):
                case.headers.pop(name, None)
        case.cookies = {k: v for k, v in (case.cookies or {}).items() if k != "session"}
    elif _own_credentials(case):
        return
    # In the fuzzing phase a request without credentials of its own is sent logged in too;
    # `auth_envelope` still probes each operation without credentials.
    if "session" not in _JAR:
        token = _register(case)
        if token is not None:
            _JAR["session"] = token
    if "session" in _JAR:
        case.cookies = {**(case.cookies or {}), "session": _JAR["session"]}
        if _is_positive(case):
            _give_known_password(case)


def _drop_jar() -> None:
    _JAR.pop("session", None)
    _JAR_ACCOUNT.clear()


@schemathesis.hook
def after_call(context, case, response):
    try:
        answer = json.loads(response.content)
    except ValueError:
        answer = None
    errno = answer.get("errno") if isinstance(answer, dict) else None
    operation_id = _operation_id(case)
    body = case.body if isinstance(case.body, dict) else {}
    jars_own = _JAR.get("session") is not None and _token_sent(response.request) == _JAR["session"]
    # What the answer says of the accounts.
    mobile = body.get("mobile").strip() if isinstance(body.get("mobile"), str) else None
    if errno == "0" and operation_id in ("register", "login", "resetPassword") and mobile is not None:
        if isinstance(body.get("password"), str):
            _ACCOUNTS[mobile] = body["password"]
    elif errno == "0" and operation_id == "changePassword" and jars_own and "mobile" in _JAR_ACCOUNT:
        if isinstance(body.get("new_password"), str):
            _ACCOUNTS[_JAR_ACCOUNT["mobile"]] = body["new_password"]
    elif errno == "0" and operation_id == "deleteUser" and jars_own and "mobile" in _JAR_ACCOUNT:
        _ACCOUNTS.pop(_JAR_ACCOUNT["mobile"], None)
    # A session the server no longer knows (ended by logging out everywhere, a new password, a
    # reset, the account deleted, or evicted) is dropped, and the next request needing one
    # registers anew. So is a session whose account the login limits locked (REQERR from a
    # route asking for its password): its password could not be checked for the next minutes.
    if jars_own and (errno == "4101" or (errno == "4201" and operation_id in _PASSWORD_FIELD)):
        _drop_jar()
    for cookie in response.headers.get("set-cookie") or []:
        name, _, rest = cookie.partition("=")
        if name.strip() != "session":
            continue
        value = rest.split(";")[0].strip()
        if TOKEN.match(value):
            _JAR["session"] = value
            _JAR_ACCOUNT.clear()
            if operation_id in ("register", "login") and mobile is not None:
                _JAR_ACCOUNT["mobile"] = mobile
        elif value == "":
            _drop_jar()
