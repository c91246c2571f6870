"""What the router's services refuse with (views turn them into a 4xx)."""

from config.api import DomainError


class OfferUnavailable(DomainError):
    code = "offer_closed"


class NotAllowed(DomainError):
    status_code = 409
    code = "not_allowed"
