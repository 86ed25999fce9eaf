"""Money as people read it: an amount in a currency, formatted for a locale by Babel (CLDR's
symbols, separators and decimals per currency: "$49.00", "49,00 €", "¥4,900"), so no page or
message shows a bare "49.00"."""

from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import UnknownCurrencyError, format_currency, get_currency_name

DEFAULT_LOCALE = "en"


def _locale(locale: str | None) -> Locale:
    try:
        return Locale.parse((locale or DEFAULT_LOCALE).replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(DEFAULT_LOCALE)


def format_money(
    amount: str | Decimal | int | None, currency: str | None, locale: str | None = None
) -> str | None:
    """`amount` in `currency` for `locale` (default English); None for no amount. Without a known
    currency the amount is shown as a plain number with the code, if any, after it."""
    if amount is None or amount == "":
        return None
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    where = _locale(locale)
    code = (currency or "").upper()
    if code:
        try:
            get_currency_name(code, locale=where)  # raises for a code CLDR does not know
            return format_currency(value, code, locale=where)
        except UnknownCurrencyError:
            pass
    plain = f"{value:,.2f}"
    return f"{plain} {code}" if code else plain
