"""The two ways a request fails, raised wherever the failure is found (a service, a parser, a
check) and answered by one handler each (`routes/responses.py`, registered in `app.py`):

- `ApiError`: an answer of a JSON interface. Its body is `{"errors": [...]}` unless it carries
  another one: STOQ's merchant API answers `{"error": "...", ...}` (`ApiError.stoq`), and its
  public API a well-formed signup it could not honour with `200 {"intents": [], "errors": [...]}`
  (`ApiError.unhonoured`).
- `PageError`: a readable page for a person (an install link, a shopper's link).

Anything else that escapes a request (a `ValueError` from a bug included) is a 500."""

from typing import Any


class ApiError(Exception):
    """A JSON answer that is not a success: its status, body and extra headers."""

    def __init__(
        self,
        status: int,
        *messages: str,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(*messages)
        self.status, self.messages, self.headers = status, list(messages), headers
        self.body: dict[str, Any] = {"errors": self.messages} if body is None else body

    @classmethod
    def stoq(
        cls, status: int, error: str, /, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> "ApiError":
        """STOQ's v1 external (merchant API) error: `{"error": error, **extra}`."""
        return cls(status, error, headers=headers, body={"error": error, **extra})

    @classmethod
    def unhonoured(cls, *messages: str) -> "ApiError":
        """STOQ's answer to a well-formed signup that could not be filed (200, no intents)."""
        return cls(200, *messages, body={"intents": [], "errors": list(messages)})


class PageError(Exception):
    """A page for a person: a title and a sentence. A shopper's page (`for_shopper`) is the shop's
    styled message page in the shopper's `locale`; any other is a plain page."""

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        for_shopper: bool = False,
        locale: str | None = None,
        shop: str | None = None,
        shop_url: str | None = None,
        product_url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.headers = status, title, message, headers
        self.for_shopper, self.locale = for_shopper, locale
        # a shopper's page names the shop and links back to it (and the product) where known
        self.shop, self.shop_url, self.product_url = shop, shop_url, product_url
