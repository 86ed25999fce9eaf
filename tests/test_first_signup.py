"""Concurrent signups through a real server: first signups share statements on PostgreSQL
(shopify_app/first_signup.py), and every one is stored, answered with its own row, and counted
against both abuse limits, exactly as when they arrive one at a time (and on SQLite)."""

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import Engine, event, select

from shopify_app.app import create_app
from shopify_app.db import session_scope
from shopify_app.models import Customer, Intent, Job

from .support import install_shop, serve_in_thread

URL = "/api/v1/intents.json"
SHOP = "demo-shop.myshopify.com"


def body(email: str, variant: int = 1) -> str:
    return json.dumps(
        {
            "intent": {
                "shopify_variant_id": variant,
                "shopify_product_id": 2,
                "channel": "email",
                "quantity": 1,
                "source": "api",
            },
            "customer": {"email": email},
        }
    )


def post_all(app, bodies: list[tuple[str, str]]) -> list[httpx.Response]:
    """POST every (shop, body) at once, 32 at a time."""
    with (
        serve_in_thread(app) as base,
        httpx.Client(base_url=base) as http,
        ThreadPoolExecutor(32) as pool,
    ):
        return list(
            pool.map(
                lambda sb: http.post(
                    URL,
                    content=sb[1],
                    headers={"Content-Type": "application/json", "X-Shopify-Shop-Domain": sb[0]},
                ),
                bodies,
            )
        )


def rows(engine, model) -> list:
    with session_scope(engine) as session:
        return list(session.execute(select(model)).scalars().all())


def test_concurrent_first_signups_are_each_stored_and_answered_with_their_own_row(
    settings, engine, shop, backend
):
    app = create_app(settings.model_copy(update={"SIGNUP_RATE_LIMIT": "1000/minute"}))
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        if statement.lstrip().startswith("WITH x AS"):
            statements.append(statement)

    # the lifespan builds the app's engines: listen on every engine
    event.listen(Engine, "before_cursor_execute", record)
    try:
        emails = [f"s{i}@example.com" for i in range(64)]
        answers = post_all(app, [(SHOP, body(e, 1 + i % 5)) for i, e in enumerate(emails)])
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert [a.status_code for a in answers] == [201] * 64
    answered = {a.json()["intents"][0]["email"]: a.json()["intents"][0] for a in answers}
    stored = {i.email: i for i in rows(engine, Intent)}
    assert sorted(stored) == sorted(emails) == sorted(answered)
    for email, intent in stored.items():
        assert answered[email]["id"] == intent.id
        assert answered[email]["customer_id"] == intent.customer_id
        assert answered[email]["shopify_variant_id"] == intent.shopify_variant_id
    customers = {c.id: c.email for c in rows(engine, Customer)}
    assert {i.customer_id: e for e, i in stored.items()} == customers
    # one variant read per variant the shop has never seen, however many signups asked for it
    reads = [j.key for j in rows(engine, Job) if j.kind == "variant_read"]
    assert sorted(reads) == sorted({f"{i.shop_id}:{i.shopify_variant_id}" for i in stored.values()})
    if backend == "postgresql":
        assert 1 <= len(statements) < 64  # shared


def test_concurrent_signups_of_one_shopper_make_one_customer(settings, engine, shop):
    app = create_app(settings.model_copy(update={"SIGNUP_RATE_LIMIT": "1000/minute"}))
    # ten variants, and each variant asked for three times at once
    answers = post_all(app, [(SHOP, body("one@example.com", 1 + i % 10)) for i in range(30)])
    assert [a.status_code for a in answers] == [201] * 30
    [customer] = rows(engine, Customer)
    intents = rows(engine, Intent)
    assert sorted(i.shopify_variant_id for i in intents) == list(range(1, 11))
    assert {i.customer_id for i in intents} == {customer.id}
    by_variant = {i.shopify_variant_id: i.id for i in intents}
    for answer in answers:
        intent = answer.json()["intents"][0]
        assert intent["id"] == by_variant[intent["shopify_variant_id"]]


def test_both_limits_count_every_concurrent_signup(settings, engine, shop):
    limited = settings.model_copy(
        update={"SIGNUP_RATE_LIMIT": "13/minute", "SIGNUP_CONTACT_LIMIT": "3/hour"}
    )
    app = create_app(limited)
    # 6 signups of one address (3 may pass the per-contact limit) and 6 of others, all at once
    bodies = [(SHOP, body("flood@example.com", v)) for v in range(1, 7)]
    bodies += [(SHOP, body(f"o{i}@example.com")) for i in range(6)]
    answers = post_all(app, bodies)
    codes = [a.status_code for a in answers]
    assert sorted(codes[:6]) == [201] * 3 + [429] * 3 and codes[6:] == [201] * 6
    for answer in answers:
        if answer.status_code == 429:
            assert 1 <= int(answer.headers["retry-after"]) <= 3600
            assert answer.json()["errors"][0].startswith("Too many signups")
    stored = rows(engine, Intent)
    assert len(stored) == 9 and sum(i.email == "flood@example.com" for i in stored) == 3
    # all 12 counted against the per-address limit, the refused ones too: one more passes, then 429
    later = post_all(app, [(SHOP, body(f"late{i}@example.com")) for i in range(2)])
    assert sorted(a.status_code for a in later) == [201, 429]


def test_an_unknown_shop_in_a_shared_statement_is_refused_and_the_others_filed(
    settings, engine, shop
):
    app = create_app(settings.model_copy(update={"SIGNUP_RATE_LIMIT": "1000/minute"}))
    install_shop(engine, settings, "optin-shop.myshopify.com", double_optin=True)
    bodies = [
        (
            ("demo-shop", "nowhere", "optin-shop")[i % 3] + ".myshopify.com",
            body(f"m{i}@example.com"),
        )
        for i in range(30)
    ]
    answers = post_all(app, bodies)
    for (domain, _), answer in zip(bodies, answers, strict=True):
        if domain.startswith("nowhere"):
            assert answer.status_code == 401
        else:
            assert answer.status_code == 201
            confirmed = answer.json()["intents"][0]["optin_confirmed"]
            assert confirmed is (not domain.startswith("optin"))
    assert len(rows(engine, Intent)) == 20
