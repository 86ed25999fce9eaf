"""Which channels can send, decided once (`notify/channels.sendable_channels`) from the settings:
email with SMTP_HOST and MAIL_FROM, SMS with the three Twilio settings, push with both VAPID keys
and VAPID_SUBJECT; in development each of them without its settings, to files. The theme block's config (`/proxy/config`),
the admin's settings (JSON and page) and the worker's channel set give the same answer for every
combination; before, the block offered push without VAPID_SUBJECT, and those signups waited
forever."""

import asyncio
import base64
import itertools

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient

from shopify_app.app import create_app
from shopify_app.notify.channels import build_channels

from ..admin.tokens import SHOP, bearer
from ..fakes.push_service import vapid_keys
from ..support import proxy_query

PRIVATE, PUBLIC = vapid_keys()
NONE = {
    "SMTP_HOST": None,
    "MAIL_FROM": None,
    "TWILIO_ACCOUNT_SID": None,
    "TWILIO_AUTH_TOKEN": None,
    "TWILIO_FROM_NUMBER": None,
    "VAPID_PRIVATE_KEY": None,
    "VAPID_PUBLIC_KEY": None,
    "VAPID_SUBJECT": None,
}
# Per channel: (name, the settings, whether it can send with them).
EMAIL = [
    ("no SMTP", {}, False),
    ("host only", {"SMTP_HOST": "smtp.example"}, False),
    ("sender only", {"MAIL_FROM": "Shop <a@shop.example>"}, False),
    ("host and sender", {"SMTP_HOST": "smtp.example", "MAIL_FROM": "Shop <a@shop.example>"}, True),
]
SMS = [
    ("no Twilio", {}, False),
    ("no sender number", {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"}, False),
    (
        "Twilio",
        {
            "TWILIO_ACCOUNT_SID": "AC1",
            "TWILIO_AUTH_TOKEN": "t",
            "TWILIO_FROM_NUMBER": "+15005550006",
        },
        True,
    ),
]
PUSH = [
    ("no VAPID", {}, False),
    ("keys without subject", {"VAPID_PRIVATE_KEY": PRIVATE, "VAPID_PUBLIC_KEY": PUBLIC}, False),
    (
        "subject and public key only",
        {"VAPID_PUBLIC_KEY": PUBLIC, "VAPID_SUBJECT": "mailto:ops@shop.example"},
        False,
    ),
    (
        "keys and subject",
        {
            "VAPID_PRIVATE_KEY": PRIVATE,
            "VAPID_PUBLIC_KEY": PUBLIC,
            "VAPID_SUBJECT": "mailto:ops@shop.example",
        },
        True,
    ),
]
COMBINATIONS = list(itertools.product(EMAIL, SMS, PUSH))


def worker_channels(settings) -> dict[str, str]:
    """The channels the worker is given (`notify/service.running_worker` builds them so), each
    with the name of what sends it."""

    async def build():
        channels = build_channels(settings)
        for channel in channels.values():
            await channel.aclose()
        return {name: type(channel).__name__ for name, channel in channels.items()}

    return asyncio.run(build())


def answers(app_settings) -> tuple[dict, dict, str]:
    """(/proxy/config, GET /app/api/settings, the settings page) from an app with these settings."""
    with TestClient(create_app(app_settings), base_url="https://app.example.test") as client:
        config = client.get(f"/proxy/config?{proxy_query(SHOP)}")
        admin = client.get("/app/api/settings", headers=bearer())
        page = client.get(f"/app/settings?id_token={bearer()['Authorization'].split()[1]}")
    assert config.status_code == admin.status_code == page.status_code == 200, (
        config.text,
        admin.text,
    )
    return config.json(), admin.json(), page.text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("email", "sms", "push"),
    COMBINATIONS,
    ids=[f"{e[0]}, {s[0]}, {p[0]}" for e, s, p in COMBINATIONS],
)
def test_the_block_the_admin_and_the_worker_agree_on_what_can_send(
    email, sms, push, settings, shop, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    app_settings = settings.model_copy(update={**NONE, **email[1], **sms[1], **push[1]})
    expected = {"email": email[2], "sms": sms[2], "push": push[2]}
    config, admin, page = answers(app_settings)
    assert config == {
        "vapid_public_key": PUBLIC if push[2] else None,
        "channels": expected,
        "sms_countries": None,
    }
    assert admin["can_send"] == expected
    assert admin["channels"] == {
        "email": True,
        "sms": True,
        "push": True,
    }  # the merchant's own choice, apart
    assert set(worker_channels(app_settings)) == {name for name, yes in expected.items() if yes}
    for name, label in (("email", "Email"), ("sms", "SMS"), ("push", "Browser push")):
        assert (f'data-cannot-send="{name}"' in page) is not expected[name], (name, label)


def test_in_development_every_channel_can_send_to_files_without_credentials(
    settings, shop, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    app_settings = settings.model_copy(update={**NONE, "APP_ENV": "development"})
    config, admin, page = answers(app_settings)
    expected = {"email": True, "sms": True, "push": True}
    assert config["channels"] == admin["can_send"] == expected
    assert "data-cannot-send" not in page
    # The block subscribes with a development key: a P-256 point, the same on every start.
    key = config["vapid_public_key"]
    point = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(point) == 65 and point[0] == 4
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    assert answers(app_settings)[0]["vapid_public_key"] == key
    assert worker_channels(app_settings) == {
        "email": "FileMailer",
        "sms": "FileSms",
        "push": "FilePush",
    }


def test_in_development_configured_channels_send_for_real(settings, shop, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    app_settings = settings.model_copy(
        update={**NONE, **SMS[-1][1], **PUSH[-1][1], "APP_ENV": "development"}
    )
    config, _, _ = answers(app_settings)
    assert config["vapid_public_key"] == PUBLIC
    assert worker_channels(app_settings) == {
        "email": "FileMailer",
        "sms": "TwilioSms",
        "push": "WebPush",
    }


def test_can_send_is_read_only_in_a_put(client, shop):
    response = client.put(
        "/app/api/settings",
        json={"can_send": {"sms": True}, "double_optin": True},
        headers=bearer(),
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        "can_send: read-only: the channels this app can send (set up by whoever runs it), not a setting"
    ]
    assert client.get("/app/api/settings", headers=bearer()).json()["double_optin"] is False
