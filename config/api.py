"""API plumbing shared by every app: domain errors become clear 4xx answers."""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """A request that the domain refuses; ``status_code`` says which 4xx."""

    status_code: int = status.HTTP_409_CONFLICT
    code = "conflict"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class Invalid(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response({"error": exc.code, "detail": exc.message}, status=exc.status_code)
    return drf_exception_handler(exc, context)
