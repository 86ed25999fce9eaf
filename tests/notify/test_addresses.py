"""Email addresses by one rule (`contacts.normalize_email`) wherever they come in, the shop's
`reply_to` and a shopper's signup: an internationalised domain is kept and sent in its ASCII form
(IDNA 2008 punycode, as email-validator gives it), and a local part outside ASCII, which only
SMTPUTF8 could carry, is refused with a clear error and nothing stored. Checked at a real SMTP
server."""

import httpx
import pytest
from sqlalchemy import func, select

from shopify_app.models import Customer, Intent, Shop
from shopify_app.notify.channels import build_channels
from shopify_app.notify.worker import Worker

from ..admin.tokens import bearer
from .helpers import LOCATION, PRODUCT, SHOP, VARIANT, level_webhook, run, setup_shop

IDN = "support@bücher.example"
IDN_ASCII = "support@xn--bcher-kva.example"


@pytest.fixture
def wired(settings, smtp):
    smtp.recorder.received.clear()
    return settings.model_copy(
        update={
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": smtp.port,
            "SMTP_STARTTLS": False,
            "MAIL_FROM": "Shop <alerts@shop.example>",
        }
    )


def send_due(settings, engine):
    async def go():
        async with httpx.AsyncClient() as http:
            channels = build_channels(settings)
            await Worker(settings, engine, http, channels).drain()
            for channel in channels.values():
                await channel.aclose()

    run(go())


def signup_email(client, email):
    payload = {
        "intent": {
            "shopify_variant_id": VARIANT,
            "shopify_product_id": PRODUCT,
            "channel": "email",
            "quantity": 1,
            "source": "api",
        },
        "customer": {"email": email},
    }
    return client.post(
        "/api/v1/intents.json", json=payload, headers={"X-Shopify-Shop-Domain": SHOP}
    )


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table.__table__)).scalar_one()


@pytest.mark.slow
@pytest.mark.parametrize("given", [IDN, "Support@Bücher.Example", "SUPPORT@XN--BCHER-KVA.EXAMPLE"])
def test_an_idn_reply_to_is_stored_and_sent_as_punycode(
    given, client, engine, settings, wired, smtp, fake_shopify
):
    item = setup_shop(engine, settings, fake_shopify)
    response = client.put("/app/api/settings", json={"reply_to": given}, headers=bearer())
    assert response.status_code == 200, response.text
    assert response.json()["reply_to"] == IDN_ASCII
    with engine.connect() as connection:
        assert connection.execute(select(Shop.__table__.c.reply_to)).scalar_one() == IDN_ASCII
    preview = client.post("/app/api/settings/preview", json={"reply_to": given}, headers=bearer())
    assert preview.json()["email"]["reply_to"] == IDN_ASCII
    assert signup_email(client, "ann@example.com").status_code == 201
    item.levels = {LOCATION: 3}
    level_webhook(client, 3)
    send_due(wired, engine)
    [mail] = smtp.recorder.received
    assert mail.recipients == ["ann@example.com"]
    assert b"\r\nReply-To: support@xn--bcher-kva.example\r\n" in mail.raw


@pytest.mark.parametrize("given", ["jürgen@example.com", "jürgen@bücher.example"])
def test_a_reply_to_with_a_local_part_outside_ascii_is_refused_and_nothing_saved(
    given, client, engine, shop
):
    before = client.get("/app/api/settings", headers=bearer()).json()
    response = client.put(
        "/app/api/settings", json={"reply_to": given, "double_optin": True}, headers=bearer()
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error.startswith("reply_to: ") and "before the @" in error and "ASCII" in error
    assert client.get("/app/api/settings", headers=bearer()).json() == before
    preview = client.post("/app/api/settings/preview", json={"reply_to": given}, headers=bearer())
    assert preview.status_code == 400 and preview.json()["errors"] == [error]


def test_a_shoppers_idn_address_is_stored_and_sent_as_punycode(
    client, engine, settings, wired, smtp, fake_shopify
):
    item = setup_shop(engine, settings, fake_shopify)
    first = signup_email(client, "Ann@Bücher.Example")
    assert first.status_code == 201, first.text
    assert first.json()["intents"][0]["email"] == "ann@xn--bcher-kva.example"
    # The same address in either form is the same signup.
    again = signup_email(client, "ann@xn--bcher-kva.example")
    assert (
        again.status_code == 201
        and again.json()["intents"][0]["id"] == first.json()["intents"][0]["id"]
    )
    # IDNA 2008, as browsers and mail servers read it: "faß" is xn--fa-hia, not "fass" (IDNA 2003).
    assert (
        signup_email(client, "bob@faß.example").json()["intents"][0]["email"]
        == "bob@xn--fa-hia.example"
    )
    with engine.connect() as connection:
        assert sorted(connection.execute(select(Customer.__table__.c.email)).scalars()) == [
            "ann@xn--bcher-kva.example",
            "bob@xn--fa-hia.example",
        ]
    item.levels = {LOCATION: 3}
    level_webhook(client, 3)
    send_due(wired, engine)
    assert sorted(m.recipients[0] for m in smtp.recorder.received) == [
        "ann@xn--bcher-kva.example",
        "bob@xn--fa-hia.example",
    ]
    assert all(f"To: {m.recipients[0]}".encode() in m.raw for m in smtp.recorder.received)


def test_a_shoppers_address_with_a_local_part_outside_ascii_is_refused(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    response = signup_email(client, "jürgen@example.com")
    assert (
        response.status_code == 200
    )  # STOQ's answer to a well-formed request that cannot be honoured
    [error] = response.json()["errors"]
    assert (
        response.json()["intents"] == []
        and error.startswith("customer.email: ")
        and "before the @" in error
    )
    assert count(engine, Intent) == 0 and count(engine, Customer) == 0


# -- Rows stored before this rule: an internationalised domain in Unicode, a local part outside ASCII --
LEGACY = ["ann@bücher.example", "jürgen@example.com"]


def legacy_signups(engine, settings) -> list[int]:
    from ..admin.data import add_intents
    from ..support import install_shop

    shop_id = install_shop(engine, settings)
    ids = add_intents(engine, shop_id, len(LEGACY))
    intents, customers = Intent.__table__, Customer.__table__
    with engine.begin() as connection:
        for intent_id, email in zip(ids, LEGACY, strict=False):
            owner = connection.execute(
                select(intents.c.customer_id).where(intents.c.id == intent_id)
            ).scalar_one()
            connection.execute(
                intents.update().where(intents.c.id == intent_id).values(email=email)
            )
            connection.execute(
                customers.update().where(customers.c.id == owner).values(email=email)
            )
    return ids


@pytest.mark.parametrize(
    ("asked", "found"),
    [("Ann@XN--BCHER-KVA.example", 0), ("ann@bücher.example", 0), ("Jürgen@Example.com", 1)],
)
def test_rows_stored_in_the_older_forms_are_still_found_and_redacted(
    asked, found, client, engine, settings
):
    import json

    from shopify_app.external_api import api_keys

    from ..support import webhook_headers

    ids = legacy_signups(engine, settings)
    with engine.begin() as connection:
        key = api_keys.rotate(connection, SHOP)
    listed = client.get(
        "/api/v1/external/intents", params={"email": asked}, headers={"X-Auth-Token": key}
    )
    assert [i["id"] for i in listed.json()["intents"]] == [ids[found]]
    body = json.dumps(
        {"shop_id": 1, "shop_domain": SHOP, "customer": {"id": 1, "email": asked}}
    ).encode()
    headers = webhook_headers(body, "customers/redact", SHOP, webhook_id="redact-legacy")
    assert (
        client.post("/webhooks/customers/redact", content=body, headers=headers).status_code == 200
    )
    with engine.connect() as connection:
        emails = dict(
            connection.execute(select(Intent.__table__.c.id, Intent.__table__.c.email)).all()
        )
        customer_emails = set(connection.execute(select(Customer.__table__.c.email)).scalars())
    assert emails == {ids[found]: None, ids[1 - found]: LEGACY[1 - found]}
    assert customer_emails == {None, LEGACY[1 - found]}
