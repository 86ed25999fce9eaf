"""Old webhook deliveries and finished jobs are deleted; what is recent, still to apply or still to
run stays."""

from datetime import timedelta

from sqlalchemy import insert, select

from shopify_app import housekeeping
from shopify_app.models import Job, Shop, StatsDay, WebhookDelivery, utcnow

deliveries, jobs = WebhookDelivery.__table__, Job.__table__


def test_old_done_rows_go_and_the_rest_stays(engine):
    now = utcnow()
    rows = [  # (webhook id, state, age in days): ids follow time, as in production
        ("old-pending", "pending", 9),
        ("old-failed", "failed", 9),
        ("old-failed-2", "failed", 9),
        ("old-pending-2", "pending", 9),
        ("old-applied", "applied", 9),
        ("old-skipped", "skipped", 8),
        ("old-legacy", None, 8),
        ("ancient-failed", "failed", 40),
        *[(f"old-{i}", "applied", 8) for i in range(7)],
        ("new-applied", "applied", 1),
        ("new-failed", "failed", 2),
    ]
    kinds = [
        ("old-done", "done", 3),
        ("old-pending", "pending", 3),
        ("old-failed", "failed", 3),
        ("new-done", "done", 0),
    ]
    with engine.begin() as connection:
        for webhook_id, state, age in rows:
            connection.execute(
                insert(deliveries).values(
                    shop_domain="s.myshopify.com",
                    topic="t",
                    webhook_id=webhook_id,
                    state=state,
                    received_at=now - timedelta(days=age),
                )
            )
        for key, status, age in kinds:
            when = now - timedelta(days=age)
            connection.execute(
                insert(jobs).values(
                    kind="inventory",
                    key=key,
                    status=status,
                    payload="{}",
                    run_at=when,
                    created_at=when,
                    updated_at=when,
                )
            )
    with engine.begin() as connection:
        removed = housekeeping.purge(
            connection, chunk_size=3
        )  # several chunks, the first with nothing to delete
    assert removed == {"webhook_deliveries": 11, "jobs": 1, "event_deliveries": 0, "stats_days": 0}
    with engine.connect() as connection:
        left = set(connection.execute(select(deliveries.c.webhook_id)).scalars())
        left_jobs = set(connection.execute(select(jobs.c.key)).scalars())
    assert left == {
        "old-pending",
        "old-pending-2",
        "old-failed",
        "old-failed-2",
        "new-applied",
        "new-failed",
    }
    assert left_jobs == {"old-pending", "old-failed", "new-done"}
    with engine.begin() as connection:
        assert housekeeping.purge(connection) == {
            "webhook_deliveries": 0,
            "jobs": 0,
            "event_deliveries": 0,
            "stats_days": 0,
        }


def test_kept_dashboard_days_older_than_the_longest_window_go(engine, shop):
    """The dashboard shows at most 366 days (admin/stats.py MAX_DAYS): older kept days are read by
    no request."""
    with engine.connect() as connection:
        shop_id = connection.execute(select(Shop.__table__.c.id)).scalar_one()
    today = utcnow().date()
    with engine.begin() as connection:
        for back in (400, 368, 366, 300, 1):
            connection.execute(
                insert(StatsDay.__table__).values(
                    shop_id=shop_id,
                    day=today - timedelta(days=back),
                    epoch=0,
                    signups=back,
                    alerts=0,
                    conversions=0,
                    revenue_e4=0,
                    currencies="{}",
                )
            )
    with engine.begin() as connection:
        assert housekeeping.purge(connection)["stats_days"] == 2
    with engine.connect() as connection:
        kept = connection.execute(select(StatsDay.__table__.c.signups)).scalars().all()
    assert sorted(kept) == [1, 300, 366]
