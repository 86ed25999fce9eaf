"""What the request metrics cost per request: `metrics.observe_request` (the call the request
middleware makes) timed in a loop, in one process's registry or, with PROMETHEUS_MULTIPROC_DIR set,
in the memory-mapped files of multiprocess mode.

    .venv/bin/python bench/metrics_overhead.py
    PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) .venv/bin/python bench/metrics_overhead.py
"""

import os
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shopify_app import metrics
from shopify_app.app import create_app
from shopify_app.config import Settings

N = 200_000


def main() -> None:
    app = create_app(Settings(APP_ENV="development", DATABASE_URL="sqlite://"))
    route = next(r for r in app.routes if getattr(r, "path", "") == "/api/v1")
    scope = {"method": "POST", "route": route, "app": app}
    seconds = min(
        timeit.repeat(lambda: metrics.observe_request(scope, 201, 0.003), number=N, repeat=3)
    )
    mode = "multiprocess" if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else "one process"
    print(f"observe_request ({mode}): {seconds / N * 1e6:.2f} µs per request")


if __name__ == "__main__":
    main()
