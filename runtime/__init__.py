"""What every process starts with (the web server, the worker, the flask commands): the
configuration read from the environment, the connections (database, Redis, clock) and the
outbound WeChat API client. It serves HTTP, conversation and commands alike, so it belongs to
none of them."""
