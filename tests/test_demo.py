import subprocess
import sys
import time


def test_demo_walks_through_signup_restock_and_alerts():
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "shopify_app", "demo"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60
    out = result.stdout
    assert out.count("POST /api/v1/intents.json -> 201") == 3
    assert "3 shoppers chosen" in out
    for channel in ("email", "sms", "push"):
        assert f"{channel} sent" in out
    assert "Subject: Linen Shirt (Sage / M) is back in stock" in out and "/unsubscribe/" in out
    assert "Reply STOP to opt out." in out and "De retour en stock" in out
