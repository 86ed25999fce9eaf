"""The embedded admin's services: session-token auth, settings, stats, listings and CSV exports.
The endpoints in `routes/admin.py` and the pages call these; each takes the shop's id from the
verified session token, never from the request."""
