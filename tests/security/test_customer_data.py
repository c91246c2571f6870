"""A customer's data: export everything, erase it everywhere, purge old cases
(privacy/)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases.models import Case, CaseStatus, Customer, Identity, Message
from connectors.models import EmailAttachment, InboundEvent
from privacy import retention
from privacy.erasure import erase_customer
from privacy.export import export_customer
from privacy.models import ErasureRecord
from privacy.retention import purge_expired_cases
from tests import factories
from tests.security.stored import PICTURE, SECRETS, everything_stored


def test_the_fixture_stores_every_secret_somewhere(jiri):
    stored = everything_stored()
    assert [s for s in SECRETS if s not in stored] == []  # so the erasure test below can fail
    assert Case.objects.filter(customer=jiri).count() == 2


def test_export_holds_everything_about_the_customer(jiri):
    data = export_customer(jiri)
    text = json.dumps(data, ensure_ascii=False)
    assert [s for s in SECRETS if s not in text] == []
    assert data["customer"]["display_name"] == "Jiří Novák"
    assert {(i["kind"], i["address"]) for i in data["identities"]} == {
        ("email", "jiri@example.cz"),
        ("phone", "+420601234567"),
    }
    assert len(data["cases"]) == 2
    files = [a for case in data["cases"] for a in case["attachments"]]
    assert [(f["name"], f["size"], f["stored"]) for f in files] == [("passport-scan.png", len(PICTURE), True)]
    assert all(case["events"] for case in data["cases"])
    assert "banana" not in text and "Ben Other" not in text


def test_export_command_finds_the_customer_by_id_or_identity(jiri, capsys, tmp_path):
    for reference in [str(jiri.pk), "email:JIRI@example.cz", "jiri@example.cz", "phone:+420 601 234 567"]:
        call_command("export_customer", reference)
        assert json.loads(capsys.readouterr().out)["customer"]["id"] == jiri.pk
    call_command("export_customer", str(jiri.pk), "--output", str(tmp_path / "out.json"))
    assert json.loads((tmp_path / "out.json").read_text())["customer"]["id"] == jiri.pk


@pytest.mark.parametrize("reference", ["999999", "nobody@example.com", "telegram:42", "", "12345678901234567890", "²"])
def test_bad_references_give_a_clear_error(db, reference):
    with pytest.raises(CommandError, match="no customer|give a customer"):
        call_command("export_customer", reference)
    with pytest.raises(CommandError, match="no customer|give a customer"):
        call_command("erase_customer", reference, "--yes")


def test_erasure_leaves_nothing_of_the_customer_anywhere(jiri, django_capture_on_commit_callbacks):
    stored_file = EmailAttachment.objects.get().file
    assert stored_file.read() == PICTURE
    stored_file.close()
    with django_capture_on_commit_callbacks(execute=True):
        record = erase_customer(customer_id=jiri.pk, now=timezone.now(), requested_by="dpo")

    stored = everything_stored()
    assert [s for s in SECRETS if s in stored] == []
    assert not stored_file.storage.exists(stored_file.name)
    # What statistics count is still there: the cases, their messages and times.
    assert Case.objects.filter(customer=jiri).count() == 2
    assert Message.objects.filter(case__customer=jiri).count() >= 2
    assert not Identity.objects.filter(customer=jiri).exists()
    # The record says how much, never what.
    assert record.counts["identities"] == 2 and record.counts["files"] == 1 and record.counts["cases"] == 2
    assert record.requested_by == "dpo" and record.customer_id == jiri.pk


def test_erasure_leaves_other_customers_alone(jiri):
    erase_customer(customer_id=jiri.pk, now=timezone.now())
    ben = Identity.objects.get(address="ben@example.com").customer
    assert ben.display_name == "Ben Other"
    assert Message.objects.get(case__customer=ben).text == "unrelated banana"
    assert InboundEvent.objects.filter(message__case__customer=ben).exclude(body=b"").count() == 1


def test_erasure_is_idempotent(jiri):
    assert erase_customer(customer_id=jiri.pk, now=timezone.now()) is not None
    before = everything_stored()
    assert erase_customer(customer_id=jiri.pk, now=timezone.now()) is None
    assert everything_stored() == before
    assert ErasureRecord.objects.count() == 1


def test_erasure_covers_customers_merged_into_the_customer(jiri):
    other = factories.customer("Jiří N. (old account)")
    other.merged_into = jiri
    other.save()
    erase_customer(customer_id=jiri.pk, now=timezone.now())
    other.refresh_from_db()
    assert "Jiří" not in other.display_name


def test_a_new_message_after_erasure_starts_a_new_customer(jiri, client, django_capture_on_commit_callbacks):
    erase_customer(customer_id=jiri.pk, now=timezone.now())
    from connectors.models import Channel

    with django_capture_on_commit_callbacks(execute=True):
        factories.post_webhook(client, Channel.objects.get(key="shop"), factories.payload(thread="t-2"))
    newcomer = Message.objects.latest("pk").case.customer
    assert newcomer.pk != jiri.pk


def test_erase_command_reports_and_is_idempotent(jiri, capsys):
    call_command("erase_customer", "jiri@example.cz", "--yes")
    assert f"customer {jiri.pk} erased" in capsys.readouterr().out
    call_command("erase_customer", str(jiri.pk), "--yes")
    assert "already erased" in capsys.readouterr().out


def test_erase_command_asks_before_erasing(jiri, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="not confirmed"):
        call_command("erase_customer", str(jiri.pk))
    assert Customer.objects.get(pk=jiri.pk).display_name == "Jiří Novák"


# --- Retention ---------------------------------------------------------------
def _resolved(case: Case, *, days_ago: int) -> None:
    at = timezone.now() - timedelta(days=days_ago)
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.RESOLVED, assignee=None, resolved_at=at)


def test_retention_purges_resolved_cases_older_than_the_setting(jiri, django_capture_on_commit_callbacks):
    mail_case, api_case = Case.objects.filter(customer=jiri).order_by("pk")
    stored_file = EmailAttachment.objects.get().file
    _resolved(mail_case, days_ago=40)
    _resolved(api_case, days_ago=10)
    with django_capture_on_commit_callbacks(execute=True):
        record = purge_expired_cases(now=timezone.now(), days=30)
    assert list(Case.objects.filter(customer=jiri)) == [api_case]
    assert not Message.objects.filter(case_id=mail_case.pk).exists()
    assert not InboundEvent.objects.filter(email_detail__subject__contains="Zebrafish").exists()
    assert not stored_file.storage.exists(stored_file.name)
    assert record.kind == "retention" and record.counts["cases"] == 1 and record.counts["files"] == 1
    assert "Zebrafish" not in json.dumps(record.counts)


def test_retention_keeps_open_cases_however_old(jiri):
    Case.objects.filter(customer=jiri).update(created_at=timezone.now() - timedelta(days=400))
    assert purge_expired_cases(now=timezone.now(), days=30) is None
    assert Case.objects.filter(customer=jiri).count() == 2


def test_retention_is_off_by_default(jiri, settings):
    from privacy.tasks import purge_expired_cases as task

    for case in Case.objects.filter(customer=jiri):
        _resolved(case, days_ago=4000)
    assert settings.SWITCHBOARD["RETENTION_DAYS"] == 0
    task.run()
    assert Case.objects.filter(customer=jiri).count() == 2
    settings.SWITCHBOARD = settings.SWITCHBOARD | {"RETENTION_DAYS": 365}
    task.run()
    assert not Case.objects.filter(customer=jiri).exists()


def test_retention_runs_from_beat_on_a_worker_queue(settings):
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "privacy.tasks.purge_expired_cases")
    assert entry["schedule"] > 0
    from config.celery import app

    assert app.amqp.router.route({}, "privacy.tasks.purge_expired_cases")["queue"].name == "outbound"


def test_the_periodic_tick_purges_at_most_hourly_so_embedded_mode_needs_no_beat(jiri, settings, monkeypatch):
    from config.tasks import tick

    monkeypatch.setattr(retention, "_last_run", [])
    settings.SWITCHBOARD = settings.SWITCHBOARD | {"RETENTION_DAYS": 30}
    mail_case, api_case = Case.objects.filter(customer=jiri).order_by("pk")
    _resolved(mail_case, days_ago=40)
    tick.run()
    assert list(Case.objects.filter(customer=jiri)) == [api_case]
    _resolved(api_case, days_ago=40)
    tick.run()  # within the hour: not again
    assert list(Case.objects.filter(customer=jiri)) == [api_case]
    monkeypatch.setattr(retention, "_last_run", [timezone.now() - timedelta(hours=1, seconds=1)])
    tick.run()
    assert not Case.objects.filter(customer=jiri).exists()
    assert ErasureRecord.objects.filter(kind="retention").count() == 2


def test_a_failing_purge_is_logged_and_never_stops_the_tick(db, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(retention, "_last_run", [])
    monkeypatch.setattr(retention, "purge_expired_cases", broken)
    assert retention.purge_now_and_then(timezone.now()) is None
    assert "retention purge failed" in caplog.text
