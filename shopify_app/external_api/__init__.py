"""The services behind the merchant API (`routes/merchant_api.py`, STOQ v1 "external"): who is
calling and how much they may (`access.py`), reading its parameters (`params.py`), the signups it
lists, notifies and deletes (`queries.py`), moving signups to another variant (`transfer.py`).
Every error is `ApiError.stoq`: STOQ's `{"error": "..."}`."""
