"""Twilio's Messages API as far as the app uses it: basic auth, form fields, Twilio's JSON and
error bodies. `with FakeTwilio().running() as url:` serves it on 127.0.0.1."""

import base64
import contextlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .server import serve_in_thread


@dataclass
class FakeTwilio:
    account_sid: str = "AC" + "1" * 32
    auth_token: str = "twilio-test-token"
    messages: list[dict] = field(
        default_factory=list
    )  # form fields of each accepted message, plus its sid
    requests: list[dict] = field(default_factory=list)  # every request: form, authorized
    invalid_numbers: set[str] = field(default_factory=set)  # answered 400, code 21211
    failures: list[int] = field(default_factory=list)  # the next answers: 429 or 500
    retry_after: str = "7"
    accepted_at: list[float] = field(default_factory=list)  # time.time() of each accepted message

    async def create_message(self, request: Request) -> JSONResponse:
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        authorized = (
            request.path_params["sid"] == self.account_sid
            and request.headers.get("authorization") == expected
        )
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        self.requests.append(
            {
                "form": form,
                "authorized": authorized,
                "content_type": request.headers.get("content-type", ""),
            }
        )
        if not authorized:
            return JSONResponse(
                {
                    "code": 20003,
                    "message": "Authenticate",
                    "more_info": "https://www.twilio.com/docs/errors/20003",
                    "status": 401,
                },
                status_code=401,
            )
        if self.failures:
            status = self.failures.pop(0)
            headers = {"Retry-After": self.retry_after} if status == 429 else {}
            return JSONResponse(
                {
                    "code": 20429 if status == 429 else 20500,
                    "message": "Too Many Requests" if status == 429 else "Internal Server Error",
                    "status": status,
                },
                status_code=status,
                headers=headers,
            )
        if form.get("To") in self.invalid_numbers:
            return JSONResponse(
                {
                    "code": 21211,
                    "message": f"The 'To' number {form['To']} is not a valid phone number.",
                    "more_info": "https://www.twilio.com/docs/errors/21211",
                    "status": 400,
                },
                status_code=400,
            )
        sid = "SM" + secrets.token_hex(16)
        self.messages.append({**form, "sid": sid})
        self.accepted_at.append(time.time())
        return JSONResponse(
            {
                "sid": sid,
                "status": "queued",
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "account_sid": self.account_sid,
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            },
            status_code=201,
        )

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(
                    "/2010-04-01/Accounts/{sid}/Messages.json",
                    self.create_message,
                    methods=["POST"],
                )
            ]
        )

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        with serve_in_thread(self.app) as url:
            yield url
