"""Keeps the request being served where ``audit.recorder`` finds its user."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from audit.recorder import current_request


class AuditActor:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        token = current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)

    async def __acall__(self, request):
        token = current_request.set(request)
        try:
            return await self.get_response(request)
        finally:
            current_request.reset(token)
