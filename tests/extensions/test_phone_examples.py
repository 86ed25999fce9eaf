"""The block's SMS field shows each country's dial code and an example mobile number from a table
that tools/phone_examples.py generates with phonenumbers: the script must hold the library's
table as it is now (run the tool after upgrading phonenumbers)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tool():
    spec = importlib.util.spec_from_file_location(
        "phone_examples", ROOT / "tools" / "phone_examples.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_holds_phonenumbers_table():
    phone_examples = tool()
    assert phone_examples.rendered() in phone_examples.SCRIPT.read_text(encoding="utf-8")


def test_the_table_has_the_shops_usual_countries():
    split = (row.split(":") for row in tool().table().split("|"))
    rows = {region: (dial, example) for region, dial, example in split}
    assert rows["US"] == ("1", "(201) 555-0123")
    assert rows["GB"] == ("44", "07400 123456")
    assert rows["DE"][0] == "49" and rows["FR"][0] == "33"
    assert len(rows) > 200 and all("'" not in e and "|" not in e for _, e in rows.values())
