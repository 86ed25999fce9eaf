"""The shop's SMS countries (issue 18, item 6): set in the admin's settings, told to the block by
the app proxy's config, and applied to every signup path (the public STOQ-compatible API, the
block's form through the app proxy; on PostgreSQL the one-statement first-signup path too): a
number from another country is refused in words and nothing is stored."""

import pytest
from sqlalchemy import func, select

from shopify_app import sms_countries
from shopify_app.db import session_scope
from shopify_app.models import Customer, Intent, SettingsChange

from .admin.tokens import bearer
from .support import proxy_query
from .support import signup_body as body

SHOP = "demo-shop.myshopify.com"
US, GB, CA = "+12015550123", "+447400123456", "+15062345678"


def post(client, payload):
    return client.post(
        "/api/v1/intents.json", json=payload, headers={"X-Shopify-Shop-Domain": SHOP}
    )


def count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def put(client, **values):
    return client.put("/app/api/settings", json=values, headers=bearer())


@pytest.mark.parametrize(
    ("value", "stored"),
    [(["us", " CA ", "US"], ["CA", "US"]), (["XK"], ["XK"]), (None, None)],
)
def test_the_setting_is_a_list_of_known_countries_or_null(client, shop, value, stored):
    response = put(client, sms_countries=value)
    assert response.status_code == 200, response.text
    assert response.json()["sms_countries"] == stored
    assert client.get("/app/api/settings", headers=bearer()).json()["sms_countries"] == stored


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ([], "at least one country"),
        (["US", "ZZ"], "unknown country codes (ISO 3166 alpha-2, like US): ZZ"),
        (["USA"], "unknown country codes"),
        ("US", "must be a list of country codes"),
        ([1], "must be a list of country codes"),
        ({"US": True}, "must be a list of country codes"),
    ],
)
def test_a_bad_setting_is_a_400_that_changes_nothing(client, engine, shop, value, says):
    response = put(client, sms_countries=value, double_optin=True)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error.startswith("sms_countries: ") and says in error
    got = client.get("/app/api/settings", headers=bearer()).json()
    assert got["sms_countries"] is None and got["double_optin"] is False
    assert count(engine, SettingsChange) == 0


def test_sms_signups_from_other_countries_are_refused_on_the_public_api(client, engine, shop):
    assert put(client, sms_countries=["US", "CA"]).status_code == 200
    refused = post(client, body("sms", phone=GB))
    # as STOQ answers a well-formed signup it cannot honour (like an invalid phone): 200, no intents
    assert refused.status_code == 200
    assert refused.json() == {
        "intents": [],
        "errors": [
            "customer.phone: SMS alerts are not available for numbers from GB; this shop sends "
            "them to numbers from CA, US"
        ],
    }
    assert count(engine, Intent) == 0 and count(engine, Customer) == 0
    # given with a country code but no '+', the STOQ way: still a UK number
    assert post(client, body("sms", phone="447400123456")).json()["intents"] == []
    assert count(engine, Intent) == 0
    for phone in (US, CA):
        answer = post(client, body("sms", phone=phone))
        assert answer.status_code == 201, answer.text
        assert answer.json()["intents"][0]["phone"] == phone
    # email is not limited, even for a shopper with a UK phone
    assert post(client, body(email="uk@example.com", phone=GB)).status_code == 201
    assert count(engine, Intent) == 3


def test_a_known_shopper_is_refused_too(client, engine, shop):
    """The general path (a shopper the shop knows), not only a first signup."""
    first = post(client, body(email="ann@example.com")).json()["intents"][0]
    assert put(client, sms_countries=["US"]).status_code == 200
    refused = post(client, body("sms", id=first["customer_id"], phone=GB))
    assert refused.status_code == 200 and refused.json()["intents"] == []
    assert "numbers from GB" in refused.json()["errors"][0]
    assert count(engine, Intent) == 1


def test_the_blocks_form_is_refused_through_the_app_proxy(client, engine, shop):
    assert put(client, sms_countries=["US"]).status_code == 200
    form = {
        "shopify_variant_id": "111",
        "shopify_product_id": "222",
        "channel": "sms",
        "country": "US",
        "phone": "+44 7400 123456",  # typed with another country's code
    }
    refused = client.post(f"/proxy/intents?{proxy_query(SHOP)}", data=form)
    assert refused.status_code == 200
    assert refused.json()["intents"] == []
    assert refused.json()["errors"][0].startswith("customer.phone: SMS alerts are not available")
    assert count(engine, Intent) == 0
    taken = client.post(
        f"/proxy/intents?{proxy_query(SHOP)}", data={**form, "phone": "(201) 555-0123"}
    )
    assert taken.status_code == 201, taken.text
    assert count(engine, Intent) == 1


def test_the_block_learns_the_countries_from_the_proxy_config(client, shop):
    config = client.get(f"/proxy/config?{proxy_query(SHOP)}").json()
    assert config["sms_countries"] is None  # every country
    put(client, sms_countries=["gb", "FR"])
    assert client.get(f"/proxy/config?{proxy_query(SHOP)}").json()["sms_countries"] == ["FR", "GB"]


def test_a_shop_that_limits_nothing_takes_every_country(client, engine, shop):
    for phone in (GB, US, "+61412345678"):
        assert post(client, body("sms", phone=phone)).status_code == 201
    assert count(engine, Intent) == 3


@pytest.mark.parametrize(
    ("phone", "allowed", "refused"),
    [
        (US, None, False),
        (US, ("US",), False),
        (CA, ("US",), True),  # +1, but Canada's area code
        ("+18092345678", ("US",), True),  # +1 809: the Dominican Republic
        ("+447781123456", ("GB",), True),  # +44 7781: Guernsey
        ("+447781123456", ("GG",), False),
        (GB, ("GB", "IE"), False),
    ],
)
def test_the_rule_by_the_numbers_own_country(phone, allowed, refused):
    assert (sms_countries.refusal(phone, allowed) is not None) is refused


def test_a_national_number_is_read_as_the_chosen_countrys(client, engine, shop):
    """The block sends the number as typed with the chosen country: "(201) 555-0123" with US is a
    US number (it once was read as +20, Egypt, first), and so is taken by a US-only shop."""
    assert put(client, sms_countries=["US"]).status_code == 200
    answer = post(client, body("sms", phone="(201) 555-0123", country="US"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["intents"][0]["phone"] == US
