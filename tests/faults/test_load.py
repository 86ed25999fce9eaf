"""Load: signups at half the benchmark's rate (bench/intents_api.py measured 520-640/s on one
`serve` process on PostgreSQL; here FAULT_LOAD_RATE, 300/s) for FAULT_LOAD_SECONDS (300) while a
100,000-message email fan-out runs, `serve` and `worker` as separate processes, the load from a
process of its own (the signups are for another, sold-out variant: they wait). No errors; the signups' p50/p99 reported; the worker's and the server's
resident memory at the start and the end (they must stay flat: no growth with messages sent or
signups taken)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from shopify_app.db import session_scope
from shopify_app.models import Intent

from ..fakes.smtp import SmtpServer
from ..faults.seed import provider_settings, seconds_setting
from ..notify.helpers import VARIANT
from ..processes import answers, serve_process, stop_process, wait_for, worker_process
from ..support import free_port
from .seed import shop_with_sold_out_variants, statuses, waiting_signups
from .traffic import post_restock

FAN_OUT = 100_000
SECONDS = seconds_setting("FAULT_LOAD_SECONDS", 300)
RATE = seconds_setting("FAULT_LOAD_RATE", 300)
CLIENTS = 32


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@pytest.mark.timeout(int(SECONDS) + 900)
def test_signups_at_half_the_benchmark_rate_during_a_100000_message_fan_out(
    postgres_only, engine, settings, figures, tmp_path
):
    with SmtpServer() as smtp:
        smtp.recorder.keep = False
        config = provider_settings(settings, smtp=smtp, WORKER_POLL_INTERVAL=0.1)
        shop_id = shop_with_sold_out_variants(engine, settings)
        waiting_signups(engine, shop_id, [f"fan{n}@example.com" for n in range(FAN_OUT)])
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        out = tmp_path / "signups.json"
        memory: dict[str, list[float]] = {"serve": [], "worker": []}
        with open(tmp_path / "processes.log", "w") as log:
            server = serve_process(config, port, log_to=log, WORKER_IN_PROCESS="false")
            worker = worker_process(config, log_to=log)
            load = None
            try:
                assert wait_for(lambda: answers(base), 30), "serve did not start"
                time.sleep(1.0)
                load = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.faults.traffic",
                        str(out),
                        str(SECONDS),
                        str(CLIENTS),
                        str(RATE),
                        str(VARIANT + 1),
                        base,
                    ],
                    cwd=Path(__file__).resolve().parents[2],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                time.sleep(min(5.0, SECONDS / 10))  # the load is on, the pools are warm
                assert post_restock(base, FAN_OUT) == 200
                started = time.monotonic()
                fan_out_seconds = None
                while load.poll() is None or fan_out_seconds is None:
                    for name, process in (("serve", server), ("worker", worker)):
                        memory[name].append(rss_mb(process.pid))
                    if fan_out_seconds is None and statuses(engine) == {"sent": FAN_OUT}:
                        fan_out_seconds = time.monotonic() - started
                    if time.monotonic() - started > SECONDS + 600:
                        break
                    time.sleep(2.0)
                assert load.wait(60) == 0
                assert fan_out_seconds is not None, statuses(engine)
            finally:
                if load is not None and load.poll() is None:
                    load.kill()
                stop_process(worker)
                stop_process(server)
        results = json.loads(out.read_text())
        with session_scope(engine) as session:
            stored = set(
                session.execute(
                    select(Intent.__table__.c.email).where(Intent.__table__.c.email.like("load-%"))
                ).scalars()
            )

    statuses_seen: dict[str, int] = {}
    for status, *_ in results:
        statuses_seen[str(status)] = statuses_seen.get(str(status), 0) + 1
    latencies = [r[1] * 1000 for r in results if r[0] == 201]
    created = {r[2] for r in results if r[0] == 201}
    start_end = {
        name: {"start": values[0], "end": values[-1], "peak": max(values)}
        for name, values in memory.items()
    }
    figures.update(
        seconds=SECONDS,
        target_rate=RATE,
        signups=len(results),
        rate=round(len(results) / SECONDS, 1),
        answers=statuses_seen,
        p50_ms=round(percentile(latencies, 50), 1),
        p99_ms=round(percentile(latencies, 99), 1),
        fan_out=FAN_OUT,
        fan_out_seconds=round(fan_out_seconds, 1),
        delivered=len(smtp.recorder.counts),
        messages=sum(smtp.recorder.counts.values()),
        rss_mb=start_end,
        cpus=os.cpu_count(),
    )
    assert statuses_seen == {"201": len(results)}  # no errors
    assert created <= stored and len(created) == len(results)
    assert len(smtp.recorder.counts) == FAN_OUT and sum(smtp.recorder.counts.values()) == FAN_OUT
    for name, seen in start_end.items():  # flat: no growth with work done
        assert seen["end"] <= max(1.5 * seen["start"], seen["start"] + 100), (name, seen)
