"""The migrations make exactly the schema the models describe, on each backend."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import shopify_app.models  # noqa: F401


def test_migrations_match_the_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    # Expression indexes cannot be reflected on every backend; the unique-pending one is tested by behaviour.
    diff = [
        d
        for d in diff
        if not (d[0] in ("add_index", "remove_index") and d[1].name == "uq_intent_pending_contact")
    ]
    assert diff == []
