"""Twilio's Messages API as far as the app uses it: basic auth, form fields, Twilio's JSON."""

import base64
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class FakeTwilio:
    account_sid: str = "AC" + "1" * 32
    auth_token: str = "twilio-test-token"
    messages: list[dict] = field(default_factory=list)
    invalid_numbers: set[str] = field(default_factory=set)
    failures: list[int] = field(default_factory=list)     # queued status codes: 429, 500

    async def create_message(self, request: Request) -> JSONResponse:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.path_params["sid"] != self.account_sid or request.headers.get("authorization") != expected:
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if self.failures:
            status = self.failures.pop(0)
            return JSONResponse({"code": 20429 if status == 429 else 20500, "message": "busy", "status": status},
                                status_code=status, headers={"Retry-After": "7"} if status == 429 else {})
        if form.get("To") in self.invalid_numbers:
            return JSONResponse({"code": 21211, "message": f"The 'To' number {form['To']} is not a valid phone number.",
                                 "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400},
                                status_code=400)
        sid = "SM" + secrets.token_hex(16)
        self.messages.append({**form, "sid": sid})
        return JSONResponse({"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From"),
                             "body": form.get("Body"), "account_sid": self.account_sid, "num_segments": "1"},
                            status_code=201)

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", self.create_message,
                                       methods=["POST"])])
