"""Local stand-ins for the services the app talks to, served on 127.0.0.1 from the tests."""
