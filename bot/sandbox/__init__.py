"""`o2o sandbox`: a browser playground with customer, staff-group and manager chats.

`bot.sandbox.stack` runs the fake Bot API and the real bot and turns the fake's state into chat
views; `bot.sandbox.server` serves the page (`static/`) and its JSON and server-sent-event API.
"""
