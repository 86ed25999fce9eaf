"""Fast stand-ins for Twilio and a push service, for benchmarks only: they accept every request
with the answer the real service gives and count what they got (`GET /count`). Raw ASGI on
uvicorn, so the receiving side is not what is measured.

    python bench/receivers.py --port 9100
"""

import argparse
import itertools
import json

import uvicorn

_counter = itertools.count(1)
received = {"sms": 0, "push": 0}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    path = scope["path"]
    if path.endswith("/Messages.json"):
        received["sms"] += 1
        body = json.dumps({"sid": f"SM{next(_counter):032x}", "status": "queued"}).encode()
        status, headers = 201, [(b"content-type", b"application/json")]
    elif path.startswith("/push/"):
        received["push"] += 1
        body, status = b"", 201
        headers = [(b"location", b"/m/%d" % next(_counter))]
    elif path == "/count":
        body, status, headers = (
            json.dumps(received).encode(),
            200,
            [(b"content-type", b"application/json")],
        )
    else:
        body, status, headers = b"", 404, []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
