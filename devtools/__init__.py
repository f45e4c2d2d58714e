"""For developers only, never in production: the chat simulator (`make chat`), the fake WeChat
API the tests and `make run` talk to, and the local dev server (`make run`)."""
