"""The built-in web chat channel: the embeddable widget
(``connectors/static/connectors/webchat.js``), its websocket
``/ws/chat/<widget-key>/`` and what the agent side sends to it."""
