"""The floor for bench/intents_api.py: a bare Starlette POST endpoint on the same server stack as
`shopify-app serve` (uvicorn, one process, the same options), answering 201 with a JSON body of a
given size and doing nothing else; and the floor for bench/inventory_webhooks.py: a webhook path
that reads the body and answers an empty 200.

    .venv/bin/python bench/bare_app.py --port 8001 --size 900
"""

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def json_body(size: int) -> bytes:
    """`{"intents":[{"pad":"xxx…"}],"errors":[]}` padded to exactly `size` bytes (at least the frame)."""
    frame = b'{"intents":[{"pad":""}],"errors":[]}'
    return frame.replace(b'""', b'"' + b"x" * max(0, size - len(frame)) + b'"')


def create_app(size: int) -> Starlette:
    body = json_body(size)

    async def intents(request: Request) -> Response:
        await request.body()
        return Response(body, status_code=201, media_type="application/json")

    async def webhook(request: Request) -> Response:
        await request.body()
        return Response(status_code=200)

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(
        routes=[
            Route("/api/v1/intents.json", intents, methods=["POST"]),
            Route("/webhooks/inventory_levels/update", webhook, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--size", type=int, default=900, help="bytes of the 201 JSON body")
    args = parser.parse_args()
    # The options shopify_app/cli.py:cmd_serve passes to uvicorn.
    uvicorn.run(
        create_app(args.size),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
    )


if __name__ == "__main__":
    main()
