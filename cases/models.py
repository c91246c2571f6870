"""Customers and their identities, cases, messages and the case timeline."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from agents.models import Agent, Skill
from cases.identities import IdentityKind
from config.channel_kinds import ChannelKind


class Customer(models.Model):
    class Tier(models.TextChoices):
        STANDARD = "standard", "Standard"
        VIP = "vip", "VIP"

    display_name = models.CharField(max_length=200, blank=True)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.STANDARD)
    language = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        help_text="Set while this customer is merged into another (undo clears it).",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.display_name or f"customer {self.pk}"


class CustomerMerge(models.Model):
    """One merge of ``source`` into ``target``, with exactly what moved, so an
    undo moves back exactly that (and nothing that arrived since)."""

    source = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges_out")
    target = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges_in")
    identity_ids = models.JSONField(default=list, help_text="Identities moved from source to target.")
    case_ids = models.JSONField(default=list, help_text="Cases moved from source to target.")
    source_fields = models.JSONField(default=dict, help_text="Source fields the target took over (name, language).")
    actor = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"merge {self.source_id} -> {self.target_id}"


class Identity(models.Model):
    """One way to reach a customer; (kind, address) is unique, so every channel
    that carries the same address finds the same customer and history."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    address = models.CharField(max_length=255, help_text="Normalized: email lower-case, phone E.164.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [models.UniqueConstraint(fields=["kind", "address"], name="identity_kind_address_unique")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.address}"


class CaseStatus(models.TextChoices):
    NEW = "new", "New"
    QUEUED = "queued", "Queued"
    OFFERED = "offered", "Offered"
    ASSIGNED = "assigned", "Assigned"
    WAITING = "waiting", "Waiting on customer"
    WRAP_UP = "wrap_up", "Wrap-up (after-contact work)"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = [CaseStatus.NEW, CaseStatus.QUEUED, CaseStatus.OFFERED, CaseStatus.ASSIGNED, CaseStatus.WAITING]
UNASSIGNED_STATUSES = [CaseStatus.NEW, CaseStatus.QUEUED, CaseStatus.OFFERED]
# Statuses that hold an agent's capacity (never an open browser tab does).
HELD_STATUSES = [CaseStatus.ASSIGNED, CaseStatus.WAITING, CaseStatus.WRAP_UP]


class Priority(models.IntegerChoices):
    URGENT = 1, "Urgent"
    HIGH = 2, "High"
    NORMAL = 3, "Normal"
    LOW = 4, "Low"


class Case(models.Model):
    # No index of its own on the foreign keys below: the composite indexes in
    # Meta lead with each of them and serve lookups by it alone; one index
    # fewer to write on every change of a case (the router changes many).
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="cases", db_index=False)
    channel = models.ForeignKey(
        "connectors.Channel", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases", db_index=False
    )
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    thread_key = models.CharField(max_length=255, blank=True, help_text="The provider's conversation or thread.")
    subject = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default=CaseStatus.NEW)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    queue = models.ForeignKey(
        "routing.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases", db_index=False
    )
    assignee = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases", db_index=False
    )
    language = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="When it last started waiting for an agent.")
    first_offered_at = models.DateTimeField(null=True, blank=True)
    first_assigned_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Routing.
    route_rank = models.DateTimeField(
        null=True, blank=True, help_text="While queued: the virtual deadline the router serves in (smallest first)."
    )
    units = models.PositiveSmallIntegerField(default=1, help_text="Capacity units the case takes from its agent.")
    may_interrupt = models.BooleanField(default=False, help_text="May go to an agent with no room left.")
    overflow_level = models.PositiveSmallIntegerField(default=0, help_text="Overflow steps taken so far.")
    overflow = models.JSONField(
        default=dict, blank=True, help_text='Widened by overflow: {"queues": [ids], "teams": [ids], "anyone": bool}.'
    )
    sla_due_at = models.DateTimeField(null=True, blank=True, help_text="The next SLA target due, when one runs.")
    wrap_up_until = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Exactly the assigned and waiting cases have an assignee.
            models.CheckConstraint(
                condition=(Q(status__in=HELD_STATUSES) & Q(assignee__isnull=False))
                | (~Q(status__in=HELD_STATUSES) & Q(assignee__isnull=True))
                | Q(status__in=[CaseStatus.RESOLVED, CaseStatus.CLOSED]),
                name="case_assignee_matches_status",
            ),
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=4), name="case_priority_1_4"),
            models.CheckConstraint(condition=Q(units__gte=1), name="case_units_positive"),
            models.CheckConstraint(
                condition=~Q(status="queued") | Q(route_rank__isnull=False), name="queued_case_has_rank"
            ),
            # One open case per conversation thread of a channel.
            models.UniqueConstraint(
                fields=["channel", "thread_key"],
                condition=Q(status__in=OPEN_STATUSES) & ~Q(thread_key=""),
                name="one_open_case_per_thread",
            ),
        ]
        indexes = [
            models.Index(fields=["route_rank", "id"], condition=Q(status="queued"), name="case_waiting_rank_idx"),
            models.Index(fields=["queue", "route_rank"], condition=Q(status="queued"), name="case_queue_waiting_idx"),
            models.Index(fields=["wrap_up_until"], condition=Q(status="wrap_up"), name="case_wrap_up_due_idx"),
            models.Index(fields=["assignee", "status"], name="case_assignee_status_idx"),
            models.Index(fields=["customer", "created_at"], name="case_customer_idx"),
            models.Index(fields=["channel", "thread_key", "resolved_at"], name="case_thread_idx"),
            # Supervisor dashboards: a queue's open cases by status, its
            # arrivals and its answers over the last hour, without a scan.
            models.Index(
                fields=["queue", "status"],
                condition=Q(status__in=["queued", "offered", "assigned", "waiting", "wrap_up"]),
                name="case_queue_open_idx",
            ),
            models.Index(fields=["queue", "created_at"], name="case_queue_arrivals_idx"),
            models.Index(
                fields=["queue", "first_assigned_at"],
                condition=Q(first_assigned_at__isnull=False),
                name="case_queue_answers_idx",
            ),
            # The catch-up scans: resolutions without their survey, open
            # cases without SLA clocks (both look at a recent window).
            models.Index(fields=["resolved_at"], condition=Q(status="resolved"), name="case_resolved_idx"),
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["new", "queued", "offered", "assigned", "waiting"]),
                name="case_open_created_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"case {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CaseSkill(models.Model):
    """A skill a case requires, at or above a minimum proficiency."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="required_skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")
    min_proficiency = models.PositiveSmallIntegerField(default=1)
    optional = models.BooleanField(default=False, help_text="Overflow may relax or drop it.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "skill"], name="case_skill_unique"),
            models.CheckConstraint(
                condition=Q(min_proficiency__gte=1, min_proficiency__lte=5), name="case_skill_min_1_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.skill_id}>={self.min_proficiency} for case {self.case_id}"


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", "From the customer"
        OUTBOUND = "out", "To the customer"
        NOTE = "note", "Internal note"

    class Delivery(models.TextChoices):
        RECEIVED = "received", "Received"
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"

    # Looked up by message_case_idx (case, created_at): no index of its own.
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages", db_index=False)
    direction = models.CharField(max_length=4, choices=Direction.choices)
    channel = models.ForeignKey(
        "connectors.Channel", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    provider_message_id = models.CharField(max_length=255, blank=True)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True, help_text="Sanitized before it is stored; never raw customer HTML.")
    attachments = models.JSONField(default=list, blank=True, help_text="[{name, content_type, size, url}]")
    author_agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    bot_name = models.CharField(
        max_length=120, blank=True, help_text="Set on a chatbot's line of a handed-over transcript."
    )
    sender_identity = models.ForeignKey(Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    delivery_status = models.CharField(max_length=12, choices=Delivery.choices, default=Delivery.RECEIVED)
    delivery_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the sender says it was sent.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="message_provider_id_unique_per_channel",
            ),
            models.CheckConstraint(
                condition=~Q(direction="in") | Q(author_agent__isnull=True), name="inbound_message_has_no_agent_author"
            ),
        ]
        indexes = [models.Index(fields=["case", "created_at"], name="message_case_idx")]

    def __str__(self) -> str:
        return f"message {self.pk} ({self.direction}) on case {self.case_id}"


class CaseEvent(models.Model):
    """The case timeline: who did what when."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        MESSAGE_RECEIVED = "message_received", "Customer wrote"
        REOPENED = "reopened", "Re-opened"
        CLASSIFIED = "classified", "Classified by a routing rule"
        QUEUED = "queued", "Queued"
        OFFERED = "offered", "Offered"
        OFFER_ACCEPTED = "offer_accepted", "Offer accepted"
        OFFER_DECLINED = "offer_declined", "Offer declined"
        OFFER_TIMED_OUT = "offer_timed_out", "Offer timed out"
        ASSIGNED = "assigned", "Assigned"
        TRANSFERRED = "transferred", "Transferred"
        OVERFLOW = "overflow", "Overflow step"
        ESCALATED = "escalated", "Escalated"
        RETURNED = "returned", "Returned to the queue"
        WRAP_UP = "wrap_up", "Wrap-up"
        REPLY_SENT = "reply_sent", "Agent replied"
        NOTE_ADDED = "note_added", "Internal note"
        WAITING = "waiting", "Waiting on customer"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"
        PRIORITY_CHANGED = "priority_changed", "Priority changed"
        REASSIGNED = "reassigned", "Reassigned"
        HANDOFF = "handoff", "Handed over by a bot"
        IDENTITY_LINKED = "identity_linked", "Identity linked"
        CUSTOMERS_MERGED = "customers_merged", "Customers merged"
        MERGE_UNDONE = "merge_undone", "Merge undone"
        SLA_STARTED = "sla_started", "SLA clock started"
        SLA_PAUSED = "sla_paused", "SLA clock paused"
        SLA_RESUMED = "sla_resumed", "SLA clock resumed"
        SLA_MET = "sla_met", "SLA target met"
        SLA_WARNING = "sla_warning", "SLA warning"
        SLA_BREACHED = "sla_breached", "SLA breached"
        ESCALATION_ACTION = "escalation_action", "Escalation action taken"
        PROMISE_SET = "promise_set", "Promise made"
        PROMISE_KEPT = "promise_kept", "Promise kept"
        PROMISE_REMINDED = "promise_reminded", "Promise reminder"
        PROMISE_MISSED = "promise_missed", "Promise missed"
        DELIVERY_FAILED = "delivery_failed", "Outbound message failed"
        SURVEY_SENT = "survey_sent", "Satisfaction survey sent"
        SURVEY_ANSWERED = "survey_answered", "Satisfaction survey answered"

    # Looked up by case_event_case_idx (case, created_at): no index of its own.
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["case", "created_at"], name="case_event_case_idx")]

    def __str__(self) -> str:
        return f"{self.kind} on case {self.case_id}"
