from shopify_app.config import Settings
from shopify_app.crypto import unsign
from shopify_app.notify.render import (
    GSM7,
    SMS_LIMIT,
    UNSUBSCRIBE_PURPOSE,
    Alert,
    Renderer,
    pick_locale,
)

SETTINGS = Settings(APP_URL="https://alerts.example.com", SECRET_KEY="s" * 40)


def alert(**kw) -> Alert:
    base = {
        "notification_id": 7,
        "intent_id": 42,
        "channel": "email",
        "to": "ann@example.com",
        "shop_domain": "cool-store.myshopify.com",
        "shopify_variant_id": 123,
        "product_title": "Linen <Shirt>",
        "variant_title": "Green",
        "price": "49.00",
        "handle": "linen-shirt",
        "image_url": "https://cdn.example.com/a.jpg",
    }
    base.update(kw)
    return Alert(**base)


def test_locale_fallback():
    assert (
        pick_locale("fr-CA") == "fr" and pick_locale("de_DE") == "de" and pick_locale("FR") == "fr"
    )
    assert pick_locale("xx") == "en" and pick_locale(None) == "en"


def test_email_parts_links_and_escaping():
    message = Renderer(SETTINGS).render(alert())
    assert message.subject == "Linen <Shirt> (Green) is back in stock"
    assert "Linen &lt;Shirt&gt;" in message.html and "<Shirt>" not in message.html
    url = "https://cool-store.myshopify.com/products/linen-shirt?variant=123"
    assert url in message.text and url in message.html and "49.00" in message.text
    unsubscribe = message.headers["List-Unsubscribe"].strip("<>")
    token = unsubscribe.rsplit("/", 1)[1]
    assert unsubscribe.startswith("https://alerts.example.com/unsubscribe/")
    assert unsign(SETTINGS.SECRET_KEY, UNSUBSCRIBE_PURPOSE, token, 60) == 42
    assert unsubscribe in message.text and unsubscribe in message.html


def test_email_is_localised():
    french = Renderer(SETTINGS).render(alert(locale="fr", customer_name="Ann"))
    assert french.subject == "Linen <Shirt> (Green) est de nouveau en stock"
    assert "Bonjour Ann," in french.text and "Se désabonner" in french.text
    german = Renderer(SETTINGS).render(alert(locale="de-AT"))
    assert "wieder auf Lager" in german.subject


def test_sms_fits_one_segment():
    long_title = "The Extraordinarily Comfortable Handwoven Organic Linen Summer Shirt With Pockets"
    message = Renderer(SETTINGS).render(
        alert(
            channel="sms",
            to="+14155552671",
            product_title=long_title,
            handle="the-extraordinarily-comfortable-shirt",
        )
    )
    assert len(message.text) <= SMS_LIMIT and set(message.text) <= GSM7
    assert message.text.endswith("Reply STOP to opt out.")
    assert (
        "https://cool-store.myshopify.com/products/the-extraordinarily-comfortable-shirt?variant=123"
        in message.text
    )
    short = Renderer(SETTINGS).render(alert(channel="sms", to="+14155552671"))
    assert "Linen <Shirt> (Green)" in short.text


def test_push_payload():
    message = Renderer(SETTINGS).render(alert(channel="push", to='{"endpoint":"x"}', locale="fr"))
    assert message.push_payload == {
        "title": "De retour en stock",
        "body": "Linen <Shirt> (Green) est de nouveau disponible.",
        "url": "https://cool-store.myshopify.com/products/linen-shirt?variant=123",
        "image": "https://cdn.example.com/a.jpg",
        "tag": "back-in-stock-123",
    }


def test_the_shops_sender_name_and_reply_to_are_used():
    email = Renderer(SETTINGS).render(
        alert(sender_name="Linen & Co", reply_to="help@linen.example")
    )
    assert email.sender_name == "Linen & Co" and email.headers["Reply-To"] == "help@linen.example"
    sms = Renderer(SETTINGS).render(
        alert(channel="sms", to="+14155550100", sender_name="Linen & Co")
    )
    assert sms.text.startswith("Linen & Co: ")
    plain = Renderer(SETTINGS).render(alert())
    assert plain.sender_name is None and "Reply-To" not in plain.headers


def test_shoppers_of_one_alert_each_get_their_own_name_and_unsubscribe_link():
    # The alert is rendered once for all its shoppers (Renderer._shared_for); what is theirs is not.
    renderer = Renderer(SETTINGS)
    ann = renderer.render(alert(locale="fr", customer_name="Ann <3"))
    bob = renderer.render(alert(locale="fr", customer_name=None, intent_id=43, to="b@example.com"))
    assert "Bonjour Ann <3," in ann.text and "Ann &lt;3," in ann.html and "Ann" not in bob.html
    for message, intent in ((ann, 42), (bob, 43)):
        link = message.headers["List-Unsubscribe"].strip("<>")
        assert (
            unsign(SETTINGS.SECRET_KEY, UNSUBSCRIBE_PURPOSE, link.rsplit("/", 1)[1], 60) == intent
        )
        assert link in message.text and link in message.html and "@@" not in message.html
    assert bob.to == "b@example.com" and bob.subject == ann.subject
    alone = Renderer(SETTINGS).render(alert(locale="fr", customer_name="Ann <3"))  # nothing cached

    def without_link(message):
        link = message.headers["List-Unsubscribe"].strip("<>")
        return message.text.replace(link, ""), message.html.replace(link, "")

    assert without_link(alone) == without_link(ann)
