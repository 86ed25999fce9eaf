"""The block's phone table: for every region phonenumbers knows, its dial code and an example
mobile number as people there write it (national format), written into the block's SMS script
(extensions/back-in-stock/assets/sms-field.js) between its `phone-examples` markers. The block shows the chosen country's code and an
example, so a shopper sees what to type. Run it after upgrading phonenumbers:
    python tools/phone_examples.py
(tests/extensions/test_phone_examples.py fails while the script's table is not the library's)."""

import re
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

SCRIPT = (
    Path(__file__).resolve().parent.parent
    / "extensions"
    / "back-in-stock"
    / "assets"
    / "sms-field.js"
)
MARKERS = re.compile(r"(/\* phone-examples:start \*/).*?(/\* phone-examples:end \*/)", re.S)


def table() -> str:
    """ "US:1:(201) 555-0123|GB:44:07400 123456|…": region, dial code, example; sorted by region."""
    rows = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        if example is None:
            continue
        national = phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL)
        rows.append(f"{region}:{example.country_code}:{national}")
    return "|".join(rows)


def rendered() -> str:
    return f"/* phone-examples:start */'{table()}'/* phone-examples:end */"


def main() -> None:
    text = SCRIPT.read_text(encoding="utf-8")
    assert MARKERS.search(text), "the phone-examples markers are missing from sms-field.js"
    SCRIPT.write_text(MARKERS.sub(lambda _: rendered(), text), encoding="utf-8")
    print(
        f"{SCRIPT.name}: {table().count('|') + 1} regions, phonenumbers {phonenumbers.__version__}"
    )


if __name__ == "__main__":
    main()
