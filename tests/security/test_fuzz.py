"""Public inputs this issue added or guards, fuzzed with hypothesis: the login
form, the health probes, the request id header, the survey link, a signed
timestamp and the customer references of the privacy commands. Never a 5xx,
never an exception other than the clear error. (Webhooks and provider
payloads are fuzzed beside their connectors; the API by schemathesis.)"""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy.export import CustomerNotFound, find_customer
from tests import factories

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

nasty = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["", " ", "\x00", "a\x00b", "ana", "ANA", "<script>", "' OR 1=1 --", "²", "٣", "9" * 5000]),
)


@FUZZ
@given(username=nasty, password=nasty, address=st.sampled_from(["10.0.0.1", "::1", "", "not-an-ip"]))
def test_the_login_form_never_fails_with_a_5xx(username, password, address):
    client = Client(raise_request_exception=False)
    response = client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address or "10.0.0.9"
    )
    assert response.status_code in {200, 302, 429}, response.status_code


@FUZZ
@given(
    path=st.sampled_from(["/healthz", "/healthz/", "/readyz", "/readyz/"]),
    method=st.sampled_from(["get", "head", "post", "put", "delete", "options", "patch"]),
    request_id=nasty,
    host=st.sampled_from(["testserver", "evil.example", "10.0.0.1:80", "", "a" * 300, "[::1]"]),
)
def test_probes_never_fail_and_echo_a_safe_request_id(path, method, request_id, host):
    client = Client(raise_request_exception=False)
    response = getattr(client, method)(path, HTTP_X_REQUEST_ID=request_id, HTTP_HOST=host)
    assert response.status_code in {200, 405}
    echoed = response["X-Request-ID"]
    assert echoed == request_id or (len(echoed) == 32 and echoed.isalnum())
    assert "\n" not in echoed and "\x00" not in echoed


@FUZZ
@given(token=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=80), body=nasty)
def test_the_survey_link_never_fails_with_a_5xx(token, body):
    client = Client(raise_request_exception=False)
    from urllib.parse import quote

    url = f"/survey/{quote(token, safe='')}/"
    assert client.get(url).status_code < 500
    assert client.post(url, {"score": body, "comment": body}).status_code < 500


@FUZZ
@given(stamp=nasty)
def test_any_timestamp_header_is_a_clean_403_at_worst(client, stamp):
    from connectors.models import Channel
    from connectors.providers.generic_json import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

    channel = Channel.objects.get_or_create(
        key="fuzz", defaults={"name": "Fuzz", "kind": "api", "provider": "generic_json"}
    )[0]
    raw = b'{"id": "x"}'
    headers = {
        "HTTP_" + TIMESTAMP_HEADER.upper().replace("-", "_"): stamp,
        "HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_"): sign(channel.secret, f"{stamp.strip()}.".encode() + raw),
    }
    response = client.post("/hooks/fuzz/", data=raw, content_type="application/json", **headers)
    assert response.status_code in {200, 202, 400, 403}


@FUZZ
@given(reference=nasty)
def test_a_customer_reference_is_found_or_refused_clearly(reference):
    factories.customer("Ana")
    try:
        found = find_customer(reference)
    except CustomerNotFound as exc:
        assert str(exc)
    else:
        assert found.pk
