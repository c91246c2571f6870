"""Demo data for embedded mode: skills (languages too), statuses, teams,
queues, rules, six agents, a supervisor, an admin, response templates and a
signed demo channel.
Idempotent: running it again changes nothing that exists."""

from __future__ import annotations

import json

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from agents.models import Agent, AgentCapacity, AgentSkill, PresenceStatus, Role, Skill, Team
from config.channel_kinds import CHANNEL_KINDS, ChannelKind
from connectors.models import Channel
from connectors.providers.generic_json import SIGNATURE_HEADER, sign
from replies.models import Template
from routing.models import DeclineReason, OverflowStep, Queue, QueueSkill, RoutingRule, RoutingSettings

DEMO_PASSWORD = "switchboard-demo"  # noqa: S105 (public demo logins, printed on purpose)
CHAT_KINDS = ["web_chat", "sms", "whatsapp", "messenger", "instagram", "telegram", "api"]

SKILLS = [
    ("billing", "Billing", "product", ""),
    ("technical", "Technical support", "product", ""),
    ("sales", "Sales", "product", ""),
    ("lang-en", "English", "language", "en"),
    ("lang-es", "Spanish", "language", "es"),
    ("lang-de", "German", "language", "de"),
    ("lang-pt", "Portuguese", "language", "pt"),
]
STATUSES = [
    ("Offline", [], True, 0),
    ("Available", CHANNEL_KINDS, False, 1),
    ("Chat and messaging only", CHAT_KINDS, False, 2),
    ("Email and social only", ["email", "social"], False, 3),
    ("On a break", [], False, 4),
]
AGENTS = [
    # username, name, team, skills {name: proficiency}
    ("ana", "Ana García", "Support", {"lang-en": 5, "lang-es": 5, "billing": 4, "technical": 2}),
    ("ben", "Ben Turner", "Support", {"lang-en": 5, "technical": 5, "billing": 2}),
    ("carla", "Carla Souza", "Support", {"lang-en": 4, "lang-pt": 5, "lang-es": 3, "technical": 3}),
    ("david", "David Müller", "Support", {"lang-en": 4, "lang-de": 5, "billing": 3}),
    ("elena", "Elena Ruiz", "Sales", {"lang-en": 4, "lang-es": 5, "sales": 5}),
    ("farid", "Farid Haddad", "Sales", {"lang-en": 5, "sales": 4, "billing": 3}),
]
# Shared response templates and knowledge snippets: shortcut, name, kind, channel kinds, language, body.
TEMPLATES = [
    (
        "greeting",
        "Greeting",
        "template",
        [],
        "",
        "Hi {{customer.first_name}}, I'm {{agent.first_name}}. How can I help?",
    ),
    (
        "refund-ok",
        "Refund approved",
        "template",
        [],
        "",
        "Hi {{customer.first_name}}, your refund is approved: it reaches your account within 5 business days "
        "(reference: case {{case.id}}).",
    ),
    (
        "hola",
        "Saludo",
        "template",
        [],
        "es",
        "Hola {{customer.first_name}}, soy {{agent.first_name}}. ¿En qué puedo ayudarle?",
    ),
    (
        "email-signoff",
        "Email sign-off",
        "snippet",
        ["email"],
        "",
        "Kind regards,\n{{agent.name}}\n{{queue.name}} team",
    ),
    (
        "shipping-times",
        "Shipping times",
        "snippet",
        [],
        "",
        "Orders ship within 1 business day; delivery takes 2-4 business days in Europe and 5-8 elsewhere.",
    ),
]
CAPACITY = {
    "web_chat": 3,
    "sms": 3,
    "whatsapp": 3,
    "messenger": 3,
    "instagram": 3,
    "telegram": 3,
    "email": 5,
    "social": 2,
    "voice": 1,
    "api": 3,
}


class Command(BaseCommand):
    help = "Load idempotent demo data and print the URLs, demo logins and a signed curl."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--quiet", action="store_true", help="load without printing the welcome text")
        parser.add_argument(
            "--fake-providers-port",
            type=int,
            default=0,
            help="add SMS (Twilio) and Telegram demo channels whose replies go to the fake providers on this "
            "loopback port (connectors.fakes; make run starts them)",
        )

    @transaction.atomic
    def handle(self, *args, host, port, quiet, fake_providers_port=0, **options):
        groups = {role.value: Group.objects.get_or_create(name=role.value)[0] for role in Role}
        skills = {}
        for name, label, kind, code in SKILLS:
            skills[name], _ = Skill.objects.get_or_create(
                name=name, defaults={"label": label, "kind": kind, "language_code": code}
            )
        statuses = {}
        for name, kinds, default, order in STATUSES:
            statuses[name], _ = PresenceStatus.objects.get_or_create(
                name=name, defaults={"channel_kinds": list(kinds), "is_default": default, "order": order}
            )
        supervisor = self._user("sam", "Sam Supervisor", groups[Role.SUPERVISOR])
        admin = self._user("admin", "Ada Admin", groups[Role.ADMIN], superuser=True)
        teams = {name: Team.objects.get_or_create(name=name)[0] for name in ("Support", "Sales")}
        teams["Support"].supervisors.add(supervisor)
        teams["Sales"].supervisors.add(supervisor)

        general, _ = Queue.objects.get_or_create(
            name="General support", defaults={"team": teams["Support"], "priority": 3, "continuity_minutes": 120}
        )
        spanish, created = Queue.objects.get_or_create(
            name="Spanish", defaults={"team": teams["Support"], "priority": 2}
        )
        if created:
            QueueSkill.objects.create(queue=spanish, skill=skills["lang-es"], min_proficiency=3)
        spanish_created = created
        billing, created = Queue.objects.get_or_create(
            name="Billing", defaults={"team": teams["Support"], "priority": 2}
        )
        if created:
            QueueSkill.objects.create(queue=billing, skill=skills["billing"], min_proficiency=2)
        sales, created = Queue.objects.get_or_create(name="Sales", defaults={"team": teams["Sales"], "priority": 3})
        if created:
            QueueSkill.objects.create(queue=sales, skill=skills["sales"], min_proficiency=2)
        if not RoutingSettings.objects.exists():
            away = next((s for s in statuses.values() if not s.channel_kinds and not s.is_default), None)
            RoutingSettings.objects.create(missed_offers_limit=3, away_status=away)
        for order, label in enumerate(["Wrong language", "Needs another team", "Busy with a customer", "Other"]):
            DeclineReason.objects.get_or_create(label=label, defaults={"order": order})
        if spanish_created:
            OverflowStep.objects.create(
                queue=spanish, after_seconds=120, action=OverflowStep.Action.ADD_QUEUE, target_queue=general
            )
        Queue.objects.get_or_create(
            name="Email",
            defaults={"team": teams["Support"], "priority": 4, "channel_kinds": ["email"], "auto_accept": True},
        )
        for order, (name, defaults) in enumerate(
            [
                ("Spanish speakers", {"match_language": "es", "queue": spanish, "set_priority": 2}),
                (
                    "Invoices and refunds",
                    {"match_keywords": "invoice, refund, charged, factura, reembolso", "queue": billing},
                ),
                ("Buying", {"match_keywords": "price, quote, buy, upgrade", "queue": sales}),
            ],
            start=1,
        ):
            RoutingRule.objects.get_or_create(name=name, defaults={"order": order * 10, **defaults})

        for username, name, team, agent_skills in AGENTS:
            user = self._user(username, name, groups[Role.AGENT])
            agent, created = Agent.objects.get_or_create(
                user=user, defaults={"display_name": name, "status": statuses["Available"], "capacity_total": 6}
            )
            if created:
                agent.teams.add(teams[team])
                for skill, level in agent_skills.items():
                    AgentSkill.objects.create(agent=agent, skill=skills[skill], proficiency=level)
                for kind, units in CAPACITY.items():
                    AgentCapacity.objects.create(agent=agent, channel_kind=kind, units=units)

        for shortcut, name, kind, kinds, language, body in TEMPLATES:
            Template.objects.get_or_create(
                shortcut=shortcut,
                defaults={"name": name, "kind": kind, "channel_kinds": kinds, "language": language, "body": body},
            )

        channel, _ = Channel.objects.get_or_create(
            key="demo",
            defaults={
                "name": "Demo (generic JSON)",
                "kind": ChannelKind.API,
                "provider": "generic_json",
                "default_queue": general,
            },
        )
        if fake_providers_port:
            self._fake_provider_channels(host=host, port=port, fake_port=fake_providers_port, queue=general)
        if not quiet:
            self._welcome(host=host, port=port, channel=channel, admin=admin)
            if fake_providers_port:
                self.stdout.write(
                    f"  SMS (Twilio) and Telegram demo channels answer through fake providers on "
                    f"http://127.0.0.1:{fake_providers_port} (what they were sent: /requests).\n"
                )

    def _fake_provider_channels(self, *, host: str, port: str, fake_port: int, queue: Queue) -> None:
        """Demo channels whose provider APIs are played on loopback: replies
        go out in the provider's real format, statuses come back signed."""
        api_base = f"http://127.0.0.1:{fake_port}"
        for key, name, kind, provider, config in (
            (
                "demo-sms",
                "Demo SMS (Twilio, fake)",
                ChannelKind.SMS,
                "twilio",
                {
                    "account_sid": "AC" + "d" * 32,
                    "from": "+15005550006",
                    "webhook_url": f"http://{host}:{port}/hooks/demo-sms/",
                },
            ),
            ("demo-telegram", "Demo Telegram (fake)", ChannelKind.TELEGRAM, "telegram", {"bot_token": "1:demo"}),
        ):
            channel, created = Channel.objects.get_or_create(
                key=key,
                defaults={"name": name, "kind": kind, "provider": provider, "default_queue": queue, "config": {}},
            )
            channel.config = {**(channel.config or {}), **config, "api_base": api_base}
            channel.save(update_fields=["config"])

    def _user(self, username: str, full_name: str, group: Group, *, superuser: bool = False) -> User:
        first, _, last = full_name.partition(" ")
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@demo.switchboard.test",
                "is_staff": superuser,
                "is_superuser": superuser,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(group)
        return user

    def _welcome(self, *, host: str, port: str, channel: Channel, admin: User) -> None:
        base = f"http://{host}:{port}"
        body = json.dumps(
            {
                "id": "demo-1",
                "from": {"kind": "email", "address": "maria@example.com", "name": "María López"},
                "language": "es",
                "text": "Hola, mi pedido 1234 no ha llegado. ¿Me ayudan?",
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        signature = sign(channel.secret, body.encode())
        lines = [
            "",
            "Switchboard is starting in embedded mode (SQLite, in-process background work).",
            "",
            f"  Agent workspace   {base}/agent/",
            f"  Supervisor        {base}/supervisor/   (wallboard: {base}/supervisor/wallboard/)",
            f"  Admin             {base}/admin/",
            f"  API schema        {base}/api/v1/schema/",
            f"  Webhook           {base}/hooks/{channel.key}/",
            "",
            f"  Demo logins (password: {DEMO_PASSWORD})",
            "    agents:     " + ", ".join(a[0] for a in AGENTS) + "   (ana, elena and carla speak Spanish)",
            "    supervisor: sam",
            f"    admin:      {admin.username}",
            "",
            "  Log in as ana, open the agent workspace, then send a signed demo message:",
            "",
            f"    curl -X POST {base}/hooks/{channel.key}/ \\",
            "      -H 'Content-Type: application/json' \\",
            f"      -H '{SIGNATURE_HEADER}: {signature}' \\",
            f"      --data-binary '{body}'",
            "",
            "  (That curl is message id demo-1: sent again it is acknowledged as a duplicate.",
            f"   For fresh ones: make demo-message, or {'.venv/bin/python'} manage.py send_demo_message.)",
            "",
        ]
        self.stdout.write("\n".join(lines))
