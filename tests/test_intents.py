"""How a signup finds its customer, seen from outside through `POST /api/v1/intents.json`: an
answer shows only what its request sent, a request without the customer's id changes nothing
stored about them, and a signup's alert goes to the address given in that signup."""

import json

import pytest
from sqlalchemy import select

from shopify_app.db import session_scope
from shopify_app.models import Customer, Intent

URL = "/api/v1/intents.json"
SHOP = "demo-shop.myshopify.com"
INTENT = {
    "shopify_variant_id": 4242,
    "shopify_product_id": 222,
    "channel": "email",
    "quantity": 1,
    "source": "api",
}
P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"


def signup(client, customer, **intent):
    response = client.post(
        URL,
        headers={"X-Shopify-Shop-Domain": SHOP},
        content=json.dumps({"intent": {**INTENT, **intent}, "customer": customer}),
    )
    assert response.status_code == 201, response.text
    [answer] = response.json()["intents"]
    return answer


def customers(engine) -> list[Customer]:
    with session_scope(engine) as session:
        return session.execute(select(Customer).order_by(Customer.created_at)).scalars().all()


def intent_row(engine, intent_id: int) -> Intent:
    with session_scope(engine) as session:
        return session.get(Intent, intent_id)


def personal_values(answer: dict) -> set:
    return {answer[k] for k in ("email", "phone", "contact", "customer_name", "customer_id")} - {
        None
    }


def test_the_reported_sequence_shows_and_changes_nothing_of_the_victim(client, engine, shop):
    victim = signup(
        client,
        {"email": "victim@example.com", "name": "Victoria Secretname", "phone": "+14155559999"},
    )
    assert victim["customer_id"]  # the creator gets the id

    stranger = signup(client, {"email": "victim@example.com"})
    assert stranger["id"] == victim["id"]  # the same signup, repeated
    assert personal_values(stranger) == {"victim@example.com"}
    assert "Victoria" not in json.dumps(stranger) and "4155559999" not in json.dumps(stranger)
    assert (
        stranger["customer_id"] is None
        and stranger["customer_name"] is None
        and stranger["phone"] is None
    )

    attacker = signup(
        client,
        {"email": "victim@example.com", "name": "Attacker", "accepts_marketing": True},
        shopify_variant_id=4243,
    )
    assert attacker["customer_id"] is None and attacker["customer_name"] == "Attacker"
    [stored] = customers(engine)
    assert (stored.name, stored.phone, stored.accepts_marketing) == (
        "Victoria Secretname",
        "+14155559999",
        False,
    )
    # the consent claimed in that signup is recorded on it, with its time and source
    row = intent_row(engine, attacker["id"])
    assert row.accepts_marketing is True and row.consent_at is not None and row.source == "api"
    assert intent_row(engine, victim["id"]).accepts_marketing is False


def test_with_the_id_the_same_customer_is_updated(client, engine, shop):
    first = signup(client, {"email": "ann@example.com", "name": "Ann"})
    again = signup(
        client,
        {
            "id": first["customer_id"],
            "email": "ann@example.com",
            "name": "Ann Lee",
            "phone": "447911123456",
            "locale": "fr-CA",
            "accepts_marketing": True,
        },
        shopify_variant_id=5000,
    )
    assert again["customer_id"] == first["customer_id"]
    [stored] = customers(engine)
    assert (stored.name, stored.phone, stored.locale, stored.accepts_marketing) == (
        "Ann Lee",
        "+447911123456",
        "fr",
        True,
    )


def test_an_id_of_another_shop_or_made_up_is_no_proof(client, engine, settings, shop):
    from .support import install_shop

    install_shop(engine, settings, "other-shop.myshopify.com")
    theirs = client.post(
        URL,
        headers={"X-Shopify-Shop-Domain": "other-shop.myshopify.com"},
        content=json.dumps(
            {"intent": INTENT, "customer": {"email": "x@example.com", "name": "Other"}}
        ),
    ).json()["intents"][0]
    mine = signup(
        client, {"id": theirs["customer_id"], "email": "x@example.com", "name": "Renamed"}
    )
    assert mine["customer_id"] != theirs["customer_id"]
    made_up = signup(
        client,
        {"id": "00000000-0000-0000-0000-000000000000", "email": "x@example.com", "name": "Again"},
        shopify_variant_id=999,
    )
    assert made_up["customer_id"] is None  # x@example.com now belongs to this shop's own customer
    names = sorted(c.name for c in customers(engine))
    assert names == ["Other", "Renamed"]


def test_an_alert_goes_to_the_address_given_not_the_one_found_by_phone(client, engine, shop):
    """Item 2 of the issue: the second signup shares only a phone with the first."""
    first = signup(
        client, {"email": "shopper@example.com", "phone": "918123676393", "country": "in"}
    )
    second = signup(
        client, {"email": "first@example.com", "phone": "918123676393", "country": "in"}
    )
    assert second["id"] != first["id"]
    assert second["email"] == second["contact"] == "first@example.com"
    assert intent_row(engine, second["id"]).email == "first@example.com"
    # two shoppers sharing a phone: each is their own customer; the phone stays with the first
    one, two = customers(engine)
    assert (one.email, one.phone) == ("shopper@example.com", "+918123676393")
    assert (two.email, two.phone) == ("first@example.com", None)
    assert second["customer_id"] == two.id  # created by this request, so it may know it


def test_a_known_email_with_a_new_phone_leaves_the_customer_alone(client, engine, shop):
    signup(client, {"email": "kim@example.com", "phone": "447911123456"})
    again = signup(
        client, {"email": "kim@example.com", "phone": "447911123457"}, shopify_variant_id=7
    )
    assert again["phone"] == "+447911123457" and again["customer_id"] is None
    [stored] = customers(engine)
    assert stored.phone == "+447911123456"
    assert intent_row(engine, again["id"]).customer_id == stored.id


def test_same_id_with_a_new_address_files_a_signup_for_that_address(client, engine, shop):
    first = signup(client, {"email": "old@example.com"})
    moved = signup(client, {"id": first["customer_id"], "email": "new@example.com"})
    assert moved["id"] != first["id"] and moved["contact"] == "new@example.com"
    assert moved["customer_id"] == first["customer_id"]
    [stored] = customers(engine)
    assert stored.email == "new@example.com"  # with the id, the customer's address is updated
    # both signups stand, each alerting its own address
    assert {intent_row(engine, i).email for i in (first["id"], moved["id"])} == {
        "old@example.com",
        "new@example.com",
    }


def test_an_address_held_by_another_customer_is_not_moved(client, engine, shop):
    a = signup(client, {"email": "a@example.com"})
    signup(client, {"email": "b@example.com", "name": "Bea"}, shopify_variant_id=1)
    mine = signup(client, {"id": a["customer_id"], "email": "b@example.com"})
    assert mine["customer_id"] == a["customer_id"] and mine["contact"] == "b@example.com"
    emails = sorted(c.email for c in customers(engine))
    assert emails == ["a@example.com", "b@example.com"]


def test_logged_out_then_logged_in_repeat_is_one_signup(client, engine, shop):
    out = signup(client, {"email": "lou@example.com"})
    logged_in = signup(
        client, {"email": "lou@example.com", "shopify_customer_id": "7001", "name": "Lou"}
    )
    assert logged_in["id"] == out["id"]
    with session_scope(engine) as session:
        assert len(session.execute(select(Intent)).scalars().all()) == 1
    [stored] = customers(engine)
    assert stored.shopify_customer_id is None and stored.name is None  # no id sent: nothing changed


def test_sms_repeats_are_one_signup_whoever_files_them(client, engine, shop):
    a = signup(client, {"phone": "447911123456", "email": "one@example.com"}, channel="sms")
    b = signup(client, {"phone": "+44 7911 123456", "email": "two@example.com"}, channel="sms")
    assert b["id"] == a["id"] and b["email"] == "two@example.com" and b["customer_id"] is None


def test_push_signups_find_their_customer_by_subscription(client, engine, shop):
    sub = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
        "keys": {"p256dh": P256DH, "auth": AUTH},
    }
    first = signup(client, {"push": sub, "email": "p@example.com"}, channel="push")
    again = signup(client, {"push": json.dumps(sub)}, channel="push")
    other = signup(client, {"push": sub}, channel="push", shopify_variant_id=77)
    assert again["id"] == first["id"] and other["id"] != first["id"]
    assert again["customer_id"] is None and again["email"] is None
    assert len(customers(engine)) == 1
    assert intent_row(engine, other["id"]).customer_id == first["customer_id"]


@pytest.mark.parametrize("value", ["yes", "true", 1, "1", [True]])
def test_only_a_json_true_is_consent(value, client, engine, shop):
    response = client.post(
        URL,
        headers={"X-Shopify-Shop-Domain": SHOP},
        content=json.dumps(
            {"intent": INTENT, "customer": {"email": "c@example.com", "accepts_marketing": value}}
        ),
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": ["customer.accepts_marketing: must be true or false (a JSON boolean)"]
    }
    assert customers(engine) == []
