"""The signups list, the delivery log and their CSV exports name each variant from Shopify's
cache ("Merino Beanie – Charcoal", SKU), never from what the shopper's signup said, link to the
product in the Shopify admin, show marketing consent, filter on it, and say why each message was
sent in a sentence. Driven over HTTP: the pages' HTML and the exports' CSV."""

import csv
import io
import re
from html import unescape

import pytest
from sqlalchemy import select

from shopify_app.models import Shop

from .data import add_delivery, add_intents, add_location, add_variant
from .tokens import SHOP, bearer, session_token

ADMIN = "https://admin.shopify.com/store/demo-shop/products"


def shop_id(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(Shop.__table__.c.id).where(Shop.__table__.c.domain == SHOP)
        ).scalar_one()


def page(client, name: str, query: str = "") -> str:
    response = client.get(f"/app/{name}?shop={SHOP}&id_token={session_token()}&{query}")
    assert response.status_code == 200, response.text
    return response.text


def rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [unescape(re.sub(r"\s+", " ", r)) for r in body.split("</tr>") if "<td" in r]


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


def csv_rows(client, name: str, query: str = "") -> list[dict]:
    response = client.get(f"/app/api/export/{name}?{query}", headers=bearer())
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def seed(engine) -> dict[str, int]:
    me = shop_id(engine)
    # The shopper's signup says "Cheap knock-off"; Shopify's cache says what the product is.
    beanie = add_intents(
        engine,
        me,
        2,
        variant=8200011,
        product_title="Cheap knock-off",
        accepts_marketing=True,
        source="proxy",
    )
    plain = add_intents(engine, me, 1, variant=8200022, product_title="Cheap", start=10)
    unseen = add_intents(
        engine, me, 1, variant=8200033, product_title="Sent by shopper", source="merchant", start=20
    )
    api = add_intents(engine, me, 1, variant=8200011, source="api", start=30)
    add_variant(
        engine,
        me,
        8200011,
        product_title="Merino Beanie",
        variant_title="Charcoal",
        sku="MB-CH",
    )
    add_variant(engine, me, 8200022, product_title="Gift card", variant_title=None, sku=None)
    return {
        "shop": me,
        "beanie": beanie[0],
        "beanie2": beanie[1],
        "plain": plain[0],
        "unseen": unseen[0],
        "api": api[0],
    }


def test_signups_name_the_variant_from_shopify_and_link_to_it(client, engine, shop):
    ids = seed(engine)
    html = page(client, "signups")
    shown = rows(html)
    assert len(shown) == 5
    by_id = {int(re.search(r'data-intent="(\d+)"', r).group(1)): r for r in shown}
    beanie = by_id[ids["beanie"]]
    assert "Merino Beanie – Charcoal" in beanie and "SKU MB-CH" in beanie
    assert f'href="{ADMIN}/{8200011 + 5000}" target="_top"' in beanie
    assert "Cheap knock-off" not in html and "Sent by shopper" not in html
    assert ">Gift card</a>" in by_id[ids["plain"]]  # a product without variants: its title alone
    unseen = by_id[ids["unseen"]]
    assert "Variant 8200033" in text(unseen) and "SKU" not in unseen
    assert f'href="{ADMIN}/{8200033 + 5000}"' in unseen  # the signup's product id still links


def test_signups_show_consent_and_filter_on_it(client, engine, shop):
    ids = seed(engine)
    by_id = {
        int(re.search(r'data-intent="(\d+)"', r).group(1)): r for r in rows(page(client, "signups"))
    }
    consent = {
        k: text(re.search(r"<td[^>]*data-consent>(.*?)</td>", by_id[ids[k]]).group(1))
        for k in ("beanie", "plain", "unseen", "api")
    }
    assert re.fullmatch(
        r"Marketing: yes, \d{4}-\d\d-\d\d \d\d:\d\d Signed up through the storefront block",
        consent["beanie"],
    )
    assert consent["plain"] == "Marketing: no Signed up through the storefront block"
    assert consent["unseen"] == "Marketing: no Signed up through the merchant API"
    assert consent["api"] == "Marketing: no Signed up through the signup API"

    given = page(client, "signups", "consent=yes")
    assert len(rows(given)) == 2 and all("Marketing: yes" in r for r in rows(given))
    assert '<option value="yes" selected>Given</option>' in given
    assert len(rows(page(client, "signups", "consent=no"))) == 3
    refused = client.get(f"/app/signups?shop={SHOP}&id_token={session_token()}&consent=maybe")
    assert refused.status_code == 400

    exported = csv_rows(client, "signups.csv")
    assert [r["id"] for r in exported] == [str(i) for i in sorted(ids.values())[::-1][:5]]
    row = next(r for r in exported if r["id"] == str(ids["beanie"]))
    assert (row["product"], row["sku"], row["product_title"], row["variant_title"]) == (
        "Merino Beanie – Charcoal",
        "MB-CH",
        "Merino Beanie",
        "Charcoal",
    )
    assert row["product_admin_url"] == f"{ADMIN}/{8200011 + 5000}"
    assert row["accepts_marketing"] == "yes" and row["consent_at"].endswith("Z")
    assert row["signed_up_through"] == "storefront block"
    unseen = next(r for r in exported if r["id"] == str(ids["unseen"]))
    assert (unseen["product"], unseen["product_title"], unseen["sku"]) == (
        "Variant 8200033",
        "",
        "",
    )
    assert (unseen["accepts_marketing"], unseen["consent_at"]) == ("no", "")
    assert unseen["signed_up_through"] == "merchant API"
    assert [r["id"] for r in csv_rows(client, "signups.csv", "consent=yes")] == [
        str(ids["beanie2"]),
        str(ids["beanie"]),
    ]
    assert len(csv_rows(client, "signups.csv", "consent=no&channel=email")) == 3


def test_the_delivery_log_names_the_variant_and_says_why_in_sentences(client, engine, shop):
    ids = seed(engine)
    me = ids["shop"]
    add_delivery(engine, me, ids["beanie"], variant=8200011, stock_after=5, chosen=12)
    add_delivery(
        engine,
        me,
        ids["beanie2"],
        variant=8200011,
        policy="batches of units x 1 every 3600s; threshold 1",
        stock_after=5,
        chosen=5,
        batch_number=1,
    )
    add_delivery(
        engine,
        me,
        ids["plain"],
        variant=8200022,
        status="held",
        policy="all; threshold 1; held for manual sending",
        stock_after=3,
        chosen=3,
    )
    add_delivery(
        engine,
        me,
        ids["unseen"],
        variant=8200033,
        policy="manual send (admin)",
        trigger="manual",
        stock_before=0,
        stock_after=0,
    )
    add_delivery(
        engine,
        me,
        ids["api"],
        variant=8200011,
        policy="batches of units x 0.5 every 600s; threshold 2; skip over quantity",
        trigger="batch",
        stock_after=4,
        chosen=2,
        batch_number=3,
    )
    html = page(client, "deliveries")
    whys = [
        text(re.search(r"<td[^>]*data-why>(.*?)<div", r).group(1)) for r in rows(html)
    ]  # newest first
    assert whys == [
        "Still in stock (4 units): batch 3: 2 signups alerted; signups wanting more than the "
        "stock were skipped",
        "Sent by hand from the admin, with 0 units in stock",
        "Restocked to 3 units: everyone waiting alerted (3 signups); held for you to send",
        "Restocked to 5 units: batch 1, 5 signups alerted",
        "Restocked to 5 units: everyone waiting alerted (12 signups)",
    ]
    shown = rows(html)
    assert not any(w in "".join(shown) for w in ("threshold", "held for manual", "webhook"))
    assert "Merino Beanie – Charcoal" in shown[0] and "SKU MB-CH" in shown[0]
    assert f'href="{ADMIN}/{8200011 + 5000}" target="_top"' in shown[0]
    assert "Variant 8200033" in text(shown[1]) and "Cheap" not in html

    exported = csv_rows(client, "deliveries.csv")
    assert [r["why"] for r in exported] == whys
    assert "policy" not in exported[0] and "trigger" not in exported[0]
    assert (exported[0]["product"], exported[0]["sku"]) == ("Merino Beanie – Charcoal", "MB-CH")
    assert exported[0]["product_admin_url"] == f"{ADMIN}/{8200011 + 5000}"
    assert exported[1]["product"] == "Variant 8200033" and exported[2]["product"] == "Gift card"


def test_the_why_names_the_locations_the_batches_and_how_many_were_waiting(client, engine, shop):
    ids = seed(engine)
    me = ids["shop"]
    add_location(engine, me, 71, "Main warehouse")
    add_location(engine, me, 72, "Shop floor")
    batched = "batches of units x 1 every 3600s; threshold 1"
    add_delivery(  # a batch of 5 from 12 waiting: 3 batches
        engine,
        me,
        ids["beanie"],
        variant=8200011,
        policy=batched,
        stock_after=5,
        chosen=5,
        waiting=12,
        batch_size=5,
        location_ids="71",
    )
    add_delivery(  # the second batch, 7 left waiting
        engine,
        me,
        ids["beanie2"],
        variant=8200011,
        policy=batched,
        trigger="batch",
        stock_after=5,
        chosen=5,
        batch_number=2,
        waiting=7,
        batch_size=5,
        location_ids="71,72",
    )
    add_delivery(  # everyone, found by reconciliation, at three locations, one not named yet
        engine,
        me,
        ids["plain"],
        variant=8200022,
        trigger="reconcile",
        stock_after=9,
        chosen=4,
        waiting=4,
        location_ids="72,71,73",
    )
    add_delivery(  # the quantity gate left some out; the location's name is not known yet
        engine,
        me,
        ids["api"],
        variant=8200011,
        policy="all; threshold 1; skip over quantity",
        stock_after=2,
        chosen=3,
        waiting=5,
        location_ids="73",
    )
    whys = [
        text(re.search(r"<td[^>]*data-why>(.*?)<div", r).group(1))
        for r in rows(page(client, "deliveries"))
    ]
    assert whys == [
        "Restocked to 2 units: 3 of 5 waiting alerted; signups wanting more than the stock were "
        "skipped",
        "Back in stock with 9 units at Shop floor and 2 other locations, found by the app's "
        "regular stock check: all 4 waiting alerted",
        "Still in stock (5 units at Main warehouse and Shop floor): batch 2 of 3, 5 of 7 waiting "
        "alerted",
        "Restocked to 5 units at Main warehouse: batch 1 of 3, 5 of 12 waiting alerted",
    ]
    assert [r["why"] for r in csv_rows(client, "deliveries.csv")] == whys
    api = client.get("/app/api/deliveries", headers=bearer()).json()["deliveries"]
    assert api[0]["why"]["waiting"] == 5 and api[0]["why"]["locations"] == [
        {"id": 73, "name": None}
    ]
    assert (api[-1]["why"]["batch_number"], api[-1]["why"]["batches"]) == (1, 3)
    assert api[-1]["why"]["locations"] == [{"id": 71, "name": "Main warehouse"}]


def test_an_opt_in_request_says_so(client, engine, shop):
    from sqlalchemy import insert

    from shopify_app.models import Notification, utcnow

    ids = seed(engine)
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            insert(Notification.__table__).values(
                shop_id=ids["shop"],
                intent_id=ids["beanie"],
                kind="optin",
                channel="email",
                status="sent",
                attempts=1,
                sent_at=now,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    [row] = rows(page(client, "deliveries"))
    assert "The shopper was asked to confirm their signup (double opt-in)" in row
    [exported] = csv_rows(client, "deliveries.csv")
    assert exported["why"] == "The shopper was asked to confirm their signup (double opt-in)"


@pytest.mark.parametrize(
    ("recorded", "status", "said"),
    [
        (
            "SMTP 550 5.1.1 <a@b.example>: mailbox unavailable",
            "failed",
            "The shopper's mail server refused this address",
        ),
        (
            "SMTP 451 4.3.0 Try again later",
            "pending",
            "The mail server asked the app to send more slowly; it will try again",
        ),
        (
            "SMTP 127.0.0.1:25: ConnectionRefusedError: [Errno 111]",
            "pending",
            "The app could not reach its mail server; it will try again",
        ),
        (
            "Twilio 400 21211: The 'To' number +1…71 is not a valid phone number. (the number cannot receive SMS)",
            "failed",
            "This phone number cannot receive text messages",
        ),
        (
            "Twilio 401 20003: Authenticate",
            "pending",
            "Twilio refused the app's account details (check the SMS settings)",
        ),
        (
            "push service answered 410: Gone",
            "failed",
            "The shopper's browser no longer takes notifications from your store",
        ),
        (
            "push service unreachable: ConnectError",
            "pending",
            "The browser's push service could not be reached; the app will try again",
        ),
        (
            "no contact for this channel, or the message could not be rendered",
            "failed",
            "The shopper's contact details are no longer on file (erased at their request?)",
        ),
        ("RuntimeError: something else", "failed", "Sending failed"),
    ],
)
def test_what_went_wrong_is_said_in_the_merchants_words(
    client, engine, shop, recorded, status, said
):
    ids = seed(engine)
    add_delivery(engine, ids["shop"], ids["plain"], status=status, error=recorded)
    html = page(client, "deliveries")
    shown = re.search(r'<div class="sub" title="([^"]*)" data-error>([^<]*)</div>', html)
    assert shown is not None and unescape(shown.group(2)) == said
    assert unescape(shown.group(1)) == recorded  # the provider's own words, for support, on hover
