"""Email: a real mailbox, both ways.

``parse`` turns raw MIME into plain data (no Django); ``quoting`` separates
the new text from the quoted history; ``noise`` tells auto-replies and
bounces from people; ``threading`` finds the case a reply belongs to;
``attachments`` stores files with size limits; ``inbound`` stores raw mail
first (SMTP listener, IMAP poller); ``smtp_server`` and ``imap`` are the two
mail transports in; ``outbound`` sends an agent's reply by SMTP.
"""
