"""`shopify-app demo` walks through a signup, a restock and its alerts: what it prints is checked
against what it stored (the kept database) and wrote (the kept outbox), so a demo that only printed
the story would fail."""

import re
import shutil
import sqlite3
import subprocess
import sys
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_walks_through_signup_restock_and_alerts():
    result = subprocess.run(
        [sys.executable, "-m", "shopify_app", "demo", "--keep"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    folder = Path(re.search(r"^Kept (.+) \(demo\.sqlite3 and outbox/\)\.$", out, re.M).group(1))
    try:
        with sqlite3.connect(folder / "demo.sqlite3") as db:
            intents = db.execute("SELECT channel, status FROM intent ORDER BY id").fetchall()
            sent = db.execute(
                "SELECT channel, status, provider_id FROM notification ORDER BY id"
            ).fetchall()
            [(chosen, before, after)] = db.execute(
                "SELECT chosen, stock_before, stock_after FROM restock_event"
            ).fetchall()
        assert intents == [("email", "notified"), ("sms", "notified"), ("push", "notified")]
        assert [(c, s) for c, s, _ in sent] == [
            ("email", "sent"),
            ("sms", "sent"),
            ("push", "sent"),
        ]
        assert all(provider_id for _, _, provider_id in sent)
        assert (chosen, before, after) == (3, None, 5)  # stock before: never seen
        [eml] = (folder / "outbox").glob("*.eml")
        email = message_from_bytes(eml.read_bytes(), policy=default)
        assert email["To"] == "ada@example.com"
        assert email["Subject"] == "Linen Shirt (Sage / M) is back in stock"
        assert "/unsubscribe/" in email["List-Unsubscribe"]

        # What it printed is what happened.
        assert out.count("POST /api/v1/intents.json -> 201") == 3
        assert f"stock {before} -> {after}" in out and f"{chosen} shoppers chosen" in out
        for channel, status, provider_id in sent:
            assert f"{channel} {status} (provider id {provider_id})" in out
        assert f"Subject: {email['Subject']}" in out
        assert "Reply STOP to opt out." in out and "De retour en stock" in out
    finally:
        shutil.rmtree(folder, ignore_errors=True)
