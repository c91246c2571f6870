"""One customer across channels: link an identity, merge two customers, undo
a wrong merge, and read a customer's whole history.

A merge moves the source customer's identities and cases to the target and
keeps a ``CustomerMerge`` row naming exactly what moved; the source customer
stays (marked ``merged_into``) so an undo moves back exactly those rows.
Every change is recorded on the timeline of the cases it touches.

Lock order: customers by ascending id (then cases, as everywhere).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, QuerySet

from agents.models import Role
from agents.selectors import role_of
from cases.identities import InvalidIdentity, normalize_identity
from cases.models import Case, CaseEvent, Customer, CustomerMerge, Identity, Message
from cases.selectors import visible_cases
from config.api import DomainError, Invalid, NotFound


class MergeRefused(DomainError):
    code = "merge_refused"


def _lock_customers(*ids: int) -> dict[int, Customer]:
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")}
    for customer_id in ids:
        if customer_id not in locked:
            raise NotFound(f"no customer {customer_id}")
    return locked


def _record_on(case_ids, *, kind: str, now: datetime, actor=None, **data) -> None:
    CaseEvent.objects.bulk_create(
        [CaseEvent(case_id=pk, kind=kind, actor=actor, data=data, created_at=now) for pk in case_ids]
    )


def link_identity(*, customer_id: int, kind: str, address: str, now: datetime, actor=None) -> Identity:
    """Give the customer this identity (normalized). An identity another
    customer holds moves here; its earlier cases stay where they are (merge
    the customers to combine their histories)."""
    try:
        normalized = normalize_identity(kind, address, default_region=settings.SWITCHBOARD.get("DEFAULT_PHONE_REGION"))
    except InvalidIdentity as exc:
        raise Invalid(str(exc)) from None
    with transaction.atomic():
        existing = Identity.objects.filter(kind=kind, address=normalized).first()
        ids = [customer_id] + ([existing.customer_id] if existing else [])
        customers = _lock_customers(*ids)
        customer = customers[customer_id]
        if customer.merged_into_id:
            raise MergeRefused(f"customer {customer_id} is merged into customer {customer.merged_into_id}")
        if existing is not None and existing.customer_id == customer_id:
            return existing
        previous = existing.customer_id if existing else None
        if existing is None:
            identity = Identity.objects.create(customer=customer, kind=kind, address=normalized)
        else:
            identity = existing
            identity.customer = customer
            identity.save(update_fields=["customer"])
        case_ids = set(Case.objects.filter(customer_id__in=ids).values_list("pk", flat=True))
        _record_on(
            sorted(case_ids),
            kind=CaseEvent.Kind.IDENTITY_LINKED,
            now=now,
            actor=actor,
            identity=f"{kind}:{normalized}",
            customer_id=customer_id,
            from_customer_id=previous,
        )
    return identity


def merge_customers(*, source_id: int, target_id: int, now: datetime, actor=None) -> CustomerMerge:
    """Move the source customer's identities and cases to the target."""
    if source_id == target_id:
        raise MergeRefused("a customer cannot be merged into itself")
    with transaction.atomic():
        customers = _lock_customers(source_id, target_id)
        source, target = customers[source_id], customers[target_id]
        for customer in (source, target):
            if customer.merged_into_id:
                raise MergeRefused(f"customer {customer.pk} is already merged into customer {customer.merged_into_id}")
        identity_ids = sorted(source.identities.values_list("pk", flat=True))
        case_ids = sorted(Case.objects.filter(customer=source).values_list("pk", flat=True))
        taken = {}
        for field in ("display_name", "language"):
            if getattr(source, field) and not getattr(target, field):
                taken[field] = getattr(source, field)
                setattr(target, field, getattr(source, field))
        if source.tier == Customer.Tier.VIP and target.tier != Customer.Tier.VIP:
            taken["tier"] = target.tier  # what the target had, restored on undo
            target.tier = Customer.Tier.VIP
        target.save()
        Identity.objects.filter(pk__in=identity_ids).update(customer=target)
        Case.objects.filter(pk__in=case_ids).update(customer=target)
        source.merged_into = target
        source.save(update_fields=["merged_into"])
        merge = CustomerMerge.objects.create(
            source=source,
            target=target,
            identity_ids=identity_ids,
            case_ids=case_ids,
            source_fields=taken,
            actor=actor,
            created_at=now,
        )
        all_cases = Case.objects.filter(customer=target).values_list("pk", flat=True)
        _record_on(
            sorted(all_cases),
            kind=CaseEvent.Kind.CUSTOMERS_MERGED,
            now=now,
            actor=actor,
            merge_id=merge.pk,
            source_id=source.pk,
            target_id=target.pk,
            moved_cases=case_ids,
            moved_identities=identity_ids,
        )
    return merge


def undo_merge(*, merge_id: int, now: datetime, actor=None) -> CustomerMerge:
    """Move back exactly what the merge moved (identities and cases still with
    the target); what arrived since stays with the target."""
    with transaction.atomic():
        merge = CustomerMerge.objects.select_for_update().filter(pk=merge_id).first()
        if merge is None:
            raise NotFound(f"no merge {merge_id}")
        if merge.undone_at is not None:
            raise MergeRefused(f"merge {merge_id} was already undone")
        customers = _lock_customers(merge.source_id, merge.target_id)
        source, target = customers[merge.source_id], customers[merge.target_id]
        if target.merged_into_id:
            raise MergeRefused(
                f"customer {target.pk} was merged into customer {target.merged_into_id} since: undo that first"
            )
        Identity.objects.filter(pk__in=merge.identity_ids, customer=target).update(customer=source)
        Case.objects.filter(pk__in=merge.case_ids, customer=target).update(customer=source)
        changed = []
        for field in ("display_name", "language"):
            if field in merge.source_fields and getattr(target, field) == merge.source_fields[field]:
                setattr(target, field, "")
                changed.append(field)
        if "tier" in merge.source_fields:
            target.tier = merge.source_fields["tier"]
            changed.append("tier")
        if changed:
            target.save(update_fields=changed)
        source.merged_into = None
        source.save(update_fields=["merged_into"])
        merge.undone_at = now
        merge.undone_by = actor
        merge.save(update_fields=["undone_at", "undone_by"])
        touched = Case.objects.filter(customer_id__in=[source.pk, target.pk]).values_list("pk", flat=True)
        _record_on(
            sorted(touched),
            kind=CaseEvent.Kind.MERGE_UNDONE,
            now=now,
            actor=actor,
            merge_id=merge.pk,
            source_id=source.pk,
            target_id=target.pk,
        )
    return merge


# --- Reads ----------------------------------------------------------------------


def visible_customers(user) -> QuerySet[Customer]:
    """Admins see every customer; others the customers of the cases they see."""
    if role_of(user) == Role.ADMIN:
        return Customer.objects.all()
    return Customer.objects.filter(pk__in=visible_cases(user).values("customer_id"))


@dataclass(frozen=True, slots=True)
class CustomerHistory:
    customer: Customer
    identities: list[Identity]
    cases: list[Case]  # newest first, each with its messages (prefetched)
    merges: list[CustomerMerge]
    surveys: list  # answered satisfaction surveys, newest first (surveys.Survey)


def _no_surveys(customer: Customer) -> list:
    return []


# A customer's answered surveys, newest first, for the history: the surveys
# app (a layer above) fills this in at ready() with its selector.
_answered_surveys_of: Callable[[Customer], list] = _no_surveys


def read_answered_surveys_with(reader: Callable[[Customer], list]) -> None:
    """Called by ``SurveysConfig.ready()`` with ``surveys.selectors.answered_surveys_of``."""
    global _answered_surveys_of
    _answered_surveys_of = reader


def customer_history(customer: Customer) -> CustomerHistory:
    """The customer's whole history across channels, in a query per part."""
    cases = list(
        Case.objects.filter(customer=customer)
        .select_related("channel", "queue", "assignee")
        .prefetch_related(
            Prefetch("messages", queryset=Message.objects.select_related("author_agent").order_by("created_at", "pk"))
        )
        .order_by("-created_at", "-pk")
    )
    return CustomerHistory(
        customer=customer,
        identities=list(customer.identities.order_by("kind", "address")),
        cases=cases,
        merges=list(CustomerMerge.objects.filter(target=customer, undone_at__isnull=True).order_by("-created_at")),
        surveys=_answered_surveys_of(customer),
    )


__all__ = [
    "CustomerHistory",
    "MergeRefused",
    "customer_history",
    "link_identity",
    "merge_customers",
    "read_answered_surveys_with",
    "undo_merge",
    "visible_customers",
]
