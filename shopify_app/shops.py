"""Looking shops up and retiring them."""

from dataclasses import dataclass
from functools import partial

from sqlalchemy import Connection, and_, bindparam, select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from . import jobs
from .db import rowcount, run_async
from .models import JobKind, Shop, utcnow

shops = Shop.__table__

# A shop has the app installed while it is not uninstalled and we hold its token.
INSTALLED = and_(shops.c.uninstalled_at.is_(None), shops.c.access_token_encrypted.is_not(None))
_INSTALLED = select(shops.c.id, shops.c.double_optin, shops.c.sms_countries).where(
    shops.c.domain == bindparam("domain"), INSTALLED
)


@dataclass(frozen=True)
class ShopRef:
    """What the signup service needs to know of the shop it files a signup under."""

    id: int
    double_optin: bool = False
    # the countries whose numbers may sign up for SMS (sms_countries.py); None: every country
    sms_countries: tuple[str, ...] | None = None


def missing_scopes(granted: str, wanted: list[str]) -> list[str]:
    """The scopes in `wanted` that `granted` (Shopify's comma-separated grant) lacks; a `write_`
    scope includes its `read_`."""
    have = {s.strip() for s in granted.split(",") if s.strip()}
    have |= {"read_" + s.removeprefix("write_") for s in have if s.startswith("write_")}
    return [s for s in wanted if s not in have]


def find_installed(session: Session | Connection, domain: str) -> ShopRef | None:
    row = session.execute(_INSTALLED, {"domain": domain}).first()
    if row is None:
        return None
    countries = tuple(row.sms_countries) if row.sms_countries is not None else None
    return ShopRef(id=row.id, double_optin=row.double_optin, sms_countries=countries)


async def is_installed(state, domain: str) -> bool:
    """The same question from an async endpoint (`state` is the app's: engine, async_engine)."""
    if state.async_engine is None:
        return await run_in_threadpool(_installed_in_thread, state.engine, domain)
    return (
        await run_async(state.async_engine, partial(find_installed, domain=domain), autocommit=True)
        is not None
    )


def _installed_in_thread(engine, domain: str) -> bool:
    with engine.connect() as connection:
        return find_installed(connection, domain) is not None


def upsert_installed(connection: Connection, domain: str, scopes: str) -> int:
    """The shop's row, created or re-activated by an install (a re-install clears uninstalled_at);
    its token is stored beside it by `shop_tokens`; the shop's name and currency are read after it
    (`shop_profile`). Returns its id."""
    now = utcnow()
    row = connection.execute(select(shops.c.id).where(shops.c.domain == domain)).first()
    if row is None:
        shop_id = connection.execute(
            shops.insert()
            .values(
                domain=domain,
                scopes=scopes,
                installed_at=now,
                profile_queued_at=now,
                created_at=now,
                updated_at=now,
            )
            .returning(shops.c.id)
        ).scalar_one()
    else:
        shop_id = row.id
        connection.execute(
            update(shops)
            .where(shops.c.id == shop_id)
            .values(
                scopes=scopes,
                installed_at=now,
                uninstalled_at=None,
                profile_queued_at=now,
                updated_at=now,
            )
        )
    jobs.enqueue_many(connection, JobKind.shop_profile, [(f"profile-{shop_id}", shop_id, {})])
    return shop_id


def mark_uninstalled(session: Session, domain: str) -> bool:
    """Forget the token and mark the shop uninstalled; False if it was unknown or already so."""
    now = utcnow()
    result = session.execute(
        update(shops)
        .where(shops.c.domain == domain, shops.c.uninstalled_at.is_(None))
        .values(
            uninstalled_at=now,
            access_token_encrypted=None,
            access_token_expires_at=None,
            access_token_issued_at=None,
            refresh_token_encrypted=None,
            refresh_token_expires_at=None,
            reconnect_needed_at=None,
            reconnect_logged_at=None,
            api_key_hash=None,
            api_key_created_at=None,
            updated_at=now,
        )
    )
    return rowcount(result) == 1
