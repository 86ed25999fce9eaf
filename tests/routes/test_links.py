"""Unsubscribe links: a GET asks, a POST does what was chosen (this product, or everything from
the shop at that address), the one-click POST stops everything; forged links do nothing."""

import pytest
from sqlalchemy import select

from shopify_app.crypto import signer
from shopify_app.db import session_scope
from shopify_app.models import Notification, RestockEvent, utcnow

from ..support import api_signup, intent_statuses, unsubscribe_path


def test_get_asks_and_changes_nothing(client, engine, settings, shop):
    first = api_signup(client, "ann@example.com", locale="fr")
    page = client.get(unsubscribe_path(settings, first))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'lang="fr"' in page.text and "Se désabonner" in page.text and "Shirt 1" in page.text
    assert 'value="product"' in page.text and 'value="shop"' in page.text
    assert intent_statuses(engine) == {first: "pending"}


def test_this_product_only(client, engine, settings, shop):
    first, second = (
        api_signup(client, "ann@example.com", 1),
        api_signup(client, "ann@example.com", 2),
    )
    done = client.post(unsubscribe_path(settings, first), data={"scope": "product"})
    assert done.status_code == 200 and "Shirt 1" in done.text
    assert intent_statuses(engine) == {first: "unsubscribed", second: "pending"}


def test_everything_from_the_shop_at_that_address(client, engine, settings, shop):
    first, second = (
        api_signup(client, "ann@example.com", 1),
        api_signup(client, "ann@example.com", 2),
    )
    other = api_signup(client, "bob@example.com", 1)
    assert client.post(unsubscribe_path(settings, first), data={"scope": "shop"}).status_code == 200
    assert intent_statuses(engine) == {
        first: "unsubscribed",
        second: "unsubscribed",
        other: "pending",
    }
    # signing up again is honoured, for what is signed up for
    again = api_signup(client, "ann@example.com", 3)
    assert intent_statuses(engine)[again] == "pending"


def test_one_click_stops_everything_and_what_waits_to_be_sent(client, engine, settings, shop):
    first, second = (
        api_signup(client, "ann@example.com", 1),
        api_signup(client, "ann@example.com", 2),
    )
    with session_scope(engine) as session:  # an alert already decided for the second, not yet sent
        event = RestockEvent(
            shop_id=1, shopify_variant_id=2, stock_after=5, policy="all", trigger="webhook"
        )
        session.add(event)
        session.flush()
        session.add(
            Notification(
                shop_id=1,
                intent_id=second,
                restock_event_id=event.id,
                channel="email",
                next_attempt_at=utcnow(),
            )
        )
    response = client.post(
        unsubscribe_path(settings, first),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert intent_statuses(engine) == {first: "unsubscribed", second: "unsubscribed"}
    with session_scope(engine) as session:
        [note] = session.execute(select(Notification)).scalars().all()
        assert note.status == "cancelled"


@pytest.mark.parametrize("token", ["forged.token", "", "x" * 500])
def test_forged_links_do_nothing(token, client, engine, settings, shop):
    first = api_signup(client, "ann@example.com")
    for method in ("GET", "POST"):
        response = client.request(method, f"/unsubscribe/{token}" if token else "/unsubscribe/%20")
        assert response.status_code == 404
    assert intent_statuses(engine) == {first: "pending"}


def test_a_token_made_for_another_purpose_or_a_deleted_signup_does_nothing(
    client, engine, settings, shop
):
    first = api_signup(client, "ann@example.com")
    other_purpose = signer(settings.SECRET_KEY, "oauth-state").dumps(first)
    assert client.post(f"/unsubscribe/{other_purpose}", data={"scope": "shop"}).status_code == 404
    assert (
        client.post(unsubscribe_path(settings, 999999), data={"scope": "shop"}).status_code == 404
    )
    assert intent_statuses(engine) == {first: "pending"}


ONE_CLICK = {
    # RFC 8058 3.1: the POST "SHOULD be sent as multipart/form-data" and "MAY instead be" urlencoded
    "multipart": (
        b'--b0undary\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n'
        b"--b0undary--\r\n",
        "multipart/form-data; boundary=b0undary",
    ),
    "urlencoded": (b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"),
    "urlencoded without a type": (b"List-Unsubscribe=One-Click", None),  # as before: read as a form
    "multipart, no such field": (
        b'--b\r\nContent-Disposition: form-data; name="other"\r\n\r\nOne-Click\r\n--b--\r\n',
        "multipart/form-data; boundary=b",
    ),
    "json": (b'{"List-Unsubscribe": "One-Click"}', "application/json"),
    "multipart without a boundary": (b"List-Unsubscribe=One-Click", "multipart/form-data"),
}


@pytest.mark.parametrize(
    ("encoding", "everything"),
    [
        ("multipart", True),
        ("urlencoded", True),
        ("urlencoded without a type", True),
        ("multipart, no such field", False),
        ("json", False),
        ("multipart without a boundary", False),
    ],
)
def test_one_click_stops_everything_in_either_encoding_and_anything_else_only_this_product(
    encoding, everything, client, engine, settings, shop
):
    first, second = (
        api_signup(client, "ann@example.com", 1),
        api_signup(client, "ann@example.com", 2),
    )
    body, content_type = ONE_CLICK[encoding]
    response = client.post(
        unsubscribe_path(settings, first),
        content=body,
        headers={"Content-Type": content_type} if content_type else {},
    )
    assert response.status_code == 200
    assert intent_statuses(engine) == {
        first: "unsubscribed",
        second: "unsubscribed" if everything else "pending",
    }
