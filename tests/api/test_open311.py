"""Open311 GeoReport v2 conformance, per endpoint and per format, on both backends."""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

import pytest

from api.app import create_app
from api.limits import Limits, SlidingWindow
from crm import access, tracking
from crm.store import Store

with warnings.catch_warnings():
    # starlette's test client names an anyio alias that anyio now deprecates
    warnings.filterwarnings("ignore", "The anyio.abc.BlockingPortal alias", DeprecationWarning)
    from fastapi.testclient import TestClient

BASE = "/open311/v2"
FORMATS = ["json", "xml"]
INJECTIONS = [
    "'; DROP TABLE requests; --",
    "1' OR '1'='1",
    '" OR 1=1 --',
    "Robert'); DELETE FROM events; --",
    "<script>alert(1)</script>",
]
POINT = {"lat": "52.1280", "long": "-106.6650"}


@dataclass
class Api:
    client: TestClient
    store: Store
    key: str

    def post(
        self, fmt: str = "json", headers: dict[str, str] | None = None, **fields: str
    ) -> object:
        data = {
            "api_key": self.key,
            "service_code": "hydrant_issue",
            "description": "Hydrant knocked over",
            **POINT,
            **fields,
        }
        return self.client.post(f"{BASE}/requests.{fmt}", data=data, headers=headers)

    def submit(self, **fields: str) -> str:
        response = self.post(**fields)
        assert response.status_code == 200, response.text
        return str(response.json()[0]["service_request_id"])


def _client(store: Store, limits: Limits | None = None) -> Iterator[Api]:
    _record, key = access.create_api_key(store, "test client")
    with TestClient(create_app(store, limits=limits)) as client:
        yield Api(client, store, key)


@pytest.fixture
def api(store: Store) -> Iterator[Api]:
    yield from _client(store)


def parse(response: object, fmt: str) -> object:
    """Return the body as Python: JSON as is, XML as an element tree root."""
    if fmt == "json":
        assert response.headers["content-type"].startswith("application/json")
        return response.json()
    assert response.headers["content-type"].startswith("text/xml")
    return ET.fromstring(response.content)


def records(response: object, fmt: str, root: str, item: str) -> list[dict[str, str | None]]:
    """Return a list answer as dicts of text, whichever the format."""
    body = parse(response, fmt)
    if fmt == "json":
        return body  # type: ignore[return-value]
    assert body.tag == root
    return [{child.tag: child.text for child in element} for element in body.findall(item)]


def errors(response: object, fmt: str) -> list[dict[str, str | None]]:
    return records(response, fmt, "errors", "error")


def assert_w3c(text: str | None) -> datetime:
    assert text is not None
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None
    assert "T" in text
    return parsed


class TestDiscoveryAndServices:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_discovery_names_the_endpoint_and_formats(self, api: Api, fmt: str) -> None:
        response = api.client.get(f"{BASE}/discovery.{fmt}")
        assert response.status_code == 200
        body = parse(response, fmt)
        if fmt == "json":
            endpoint = body["endpoints"][0]
            assert endpoint["url"].endswith(BASE)
            assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
            assert set(endpoint["formats"]) == {"application/json", "text/xml"}
            assert_w3c(body["changeset"])
        else:
            assert body.tag == "discovery"
            endpoint = body.find("endpoints/endpoint")
            assert endpoint is not None
            assert endpoint.findtext("url", "").endswith(BASE)
            assert endpoint.findtext("type") == "production"
            assert {f.text for f in endpoint.findall("formats/format")} == {
                "application/json",
                "text/xml",
            }
            assert_w3c(body.findtext("changeset"))

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_services_list_every_catalogue_entry(self, api: Api, fmt: str) -> None:
        response = api.client.get(f"{BASE}/services.{fmt}")
        services = {s["service_code"]: s for s in records(response, fmt, "services", "service")}
        assert set(services) == {
            "water_outage",
            "hydrant_issue",
            "water_connection",
            "sewer_locate",
            "sewer_backup",
        }
        outage, locate = services["water_outage"], services["sewer_locate"]
        assert outage["service_name"] == "Water outage"
        assert str(outage["metadata"]).lower() == "true"
        assert str(locate["metadata"]).lower() == "false"
        assert outage["type"] == "realtime"
        assert outage["group"] == "water"
        assert "main break" in str(outage["keywords"]).split(",")
        assert outage["description"]

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_service_definition_lists_attributes_with_values(self, api: Api, fmt: str) -> None:
        response = api.client.get(f"{BASE}/services/water_outage.{fmt}")
        assert response.status_code == 200
        body = parse(response, fmt)
        if fmt == "json":
            assert body["service_code"] == "water_outage"
            attribute = body["attributes"][0]
            values = [(v["key"], v["name"]) for v in attribute["values"]]
            flat = {k: str(v).lower() for k, v in attribute.items() if k != "values"}
        else:
            assert body.findtext("service_code") == "water_outage"
            element = body.find("attributes/attribute")
            assert element is not None
            values = [
                (v.findtext("key"), v.findtext("name")) for v in element.findall("values/value")
            ]
            flat = {c.tag: (c.text or "").lower() for c in element if c.tag != "values"}
        assert flat["variable"] == "true"
        assert flat["code"] == "water_surfacing"
        assert flat["datatype"] == "singlevaluelist"
        assert flat["required"] == "false"
        assert flat["order"] == "1"
        assert flat["description"] == "is water coming out of the ground?"
        assert "datatype_description" in flat
        assert values == [("yes", "yes"), ("no", "no"), ("unsure", "unsure")]

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_unknown_service_is_404_in_the_spec_error_shape(self, api: Api, fmt: str) -> None:
        response = api.client.get(f"{BASE}/services/pothole.{fmt}")
        assert response.status_code == 404
        [error] = errors(response, fmt)
        assert str(error["code"]) == "404"
        assert "pothole" in str(error["description"])

    def test_unknown_format_is_404(self, api: Api) -> None:
        response = api.client.get(f"{BASE}/services.yaml")
        assert response.status_code == 404
        assert "json or .xml" in response.json()[0]["description"]

    def test_openapi_document_is_served(self, api: Api) -> None:
        document = api.client.get("/openapi.json").json()
        assert f"{BASE}/requests.{{fmt}}" in document["paths"]
        assert "/staff/v1/route" in document["paths"]


class TestPostAndReadBack:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_post_returns_a_checked_tracking_number(self, api: Api, fmt: str) -> None:
        response = api.post(fmt, account_id="acct-7")
        assert response.status_code == 200
        [receipt] = records(response, fmt, "service_requests", "request")
        number = str(receipt["service_request_id"])
        assert tracking.is_valid(tracking.normalise(number))
        assert receipt["account_id"] == "acct-7"
        assert number in str(receipt["service_notice"])
        assert api.store.get_request(number).channel == "api"

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_post_then_read_back_field_by_field(self, api: Api, fmt: str) -> None:
        number = api.submit(
            service_code="water_outage",
            description="No water on 8th St",
            address_string="100 8th St E",
            **{"attribute[water_surfacing]": "yes"},
        )
        response = api.client.get(f"{BASE}/requests/{number}.{fmt}")
        assert response.status_code == 200
        [view] = records(response, fmt, "service_requests", "request")
        assert view["service_request_id"] == number
        assert view["status"] == "open"
        assert view["service_code"] == "water_outage"
        assert view["service_name"] == "Water outage"
        assert view["description"] == "No water on 8th St"
        assert view["address"] == "100 8th St E"
        assert view["agency_responsible"] == "City of Saskatoon Water and Sewer"
        assert float(str(view["lat"])) == pytest.approx(52.128)
        assert float(str(view["long"])) == pytest.approx(-106.665)
        assert view["media_url"] in ("", None)
        assert view["status_notes"] == "received by api"
        requested = assert_w3c(view["requested_datetime"])
        assert assert_w3c(view["updated_datetime"]) == requested
        assert assert_w3c(view["expected_datetime"]) == requested + timedelta(hours=12)
        assert api.store.get_request(number).attributes == {"water_surfacing": "yes"}

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_latest_public_note_and_closed_status_show(self, api: Api, fmt: str) -> None:
        number = api.submit()
        api.store.add_note(number, "crew on the way", actor="dispatch", public=True)
        api.store.add_note(number, "internal: resident rude", actor="dispatch", public=False)
        api.store.change_status(number, "resolved", actor="crew", expected_version=1)
        response = api.client.get(f"{BASE}/requests/{number}.{fmt}?extensions=true")
        body = parse(response, fmt)
        if fmt == "json":
            view = body[0]
            extended = view["extended_attributes"]
            notes = [n["description"] for n in extended["notes"]]
            status, detailed, status_notes = (
                view["status"],
                extended["detailed_status"],
                view["status_notes"],
            )
        else:
            request = body.find("request")
            assert request is not None
            notes = [
                n.findtext("description")
                for n in request.findall("extended_attributes/notes/note")
            ]
            status = request.findtext("status")
            detailed = request.findtext("extended_attributes/detailed_status")
            status_notes = request.findtext("status_notes")
        assert status == "closed"
        assert detailed == "resolved"
        assert status_notes == "crew on the way"
        assert notes == ["received by api", "crew on the way"]
        assert "rude" not in response.text

    def test_extensions_give_the_incident_code(self, api: Api) -> None:
        number = api.submit()
        request = api.store.get_request(number)
        incident = api.store.create_incident(
            "hydrant_issue", group_key=None, request_ids=[request.id]
        )
        view = api.client.get(f"{BASE}/requests/{number}.json?extensions=1").json()[0]
        assert view["extended_attributes"]["incident_code"] == incident.code
        plain = api.client.get(f"{BASE}/requests/{number}.json").json()[0]
        assert "extended_attributes" not in plain

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_token_is_the_tracking_number(self, api: Api, fmt: str) -> None:
        number = api.submit()
        typed = number.lower().replace("-", " ")
        response = api.client.get(f"{BASE}/tokens/{typed}.{fmt}")
        assert response.status_code == 200
        [found] = records(response, fmt, "service_requests", "request")
        assert found == {"service_request_id": number, "token": number}

    def test_lookup_forgives_case_and_spaces(self, api: Api) -> None:
        number = api.submit()
        response = api.client.get(f"{BASE}/requests/{number.lower()}.json")
        assert response.json()[0]["service_request_id"] == number

    @pytest.mark.parametrize("header", [True, False])
    def test_retry_with_same_idempotency_key_returns_first_number(
        self, api: Api, header: bool
    ) -> None:
        key = (
            {"headers": {"Idempotency-Key": "retry-1"}}
            if header
            else {"client_request_id": "retry-1"}
        )
        first = api.post(**key)  # type: ignore[arg-type]
        again = api.post(**key, description="sent twice")  # type: ignore[arg-type]
        assert first.status_code == again.status_code == 200
        assert again.json()[0]["service_request_id"] == first.json()[0]["service_request_id"]
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert api.store.count_requests() == 1

    def test_idempotency_keys_are_private_to_each_api_key(self, api: Api) -> None:
        _record, other = access.create_api_key(api.store, "other client")
        mine = api.post(client_request_id="same").json()[0]["service_request_id"]
        theirs = api.post(client_request_id="same", api_key=other).json()[0]
        assert theirs["service_request_id"] != mine
        assert api.store.count_requests() == 2


class TestPostRefusals:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_missing_api_key_is_403(self, api: Api, fmt: str) -> None:
        response = api.client.post(
            f"{BASE}/requests.{fmt}", data={"service_code": "hydrant_issue", **POINT}
        )
        assert response.status_code == 403
        [error] = errors(response, fmt)
        assert str(error["code"]) == "403"
        assert "api_key" in str(error["description"])
        assert api.store.count_requests() == 0

    def test_wrong_and_revoked_api_keys_are_403(self, api: Api) -> None:
        assert api.post(api_key="wdk_guessed").status_code == 403
        record, key = access.create_api_key(api.store, "leaving client")
        assert api.post(api_key=key).status_code == 200
        access.revoke_api_key(api.store, record.id)
        assert api.post(api_key=key).status_code == 403

    @pytest.mark.parametrize(
        ("fields", "match"),
        [
            ({"service_code": "pothole"}, "unknown service code 'pothole'"),
            ({"lat": "north"}, "not a number"),
            ({"lat": "49.28", "long": "-123.12"}, "outside the area"),
            ({"lat": "", "long": ""}, "give lat and long, or a street address"),
            ({"email": "not-an-email"}, "not an email address"),
            ({"attribute[colour]": "red"}, "no question 'colour'"),
            ({"client_request_id": "k" * 81}, "the most is 80"),
        ],
    )
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_bad_report_is_400_naming_the_fault(
        self, api: Api, fmt: str, fields: dict[str, str], match: str
    ) -> None:
        response = api.post(fmt, **fields)
        assert response.status_code == 400
        [error] = errors(response, fmt)
        assert match in str(error["description"])
        assert api.store.count_requests() == 0

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_oversized_body_is_413(self, api: Api, fmt: str) -> None:
        response = api.post(fmt, description="x" * 70_000)
        assert response.status_code == 413
        assert "65,536 bytes" in str(errors(response, fmt)[0]["description"])
        assert api.store.count_requests() == 0

    def test_oversized_chunked_body_is_413(self, api: Api) -> None:
        def chunks() -> Iterator[bytes]:
            yield f"api_key={api.key}&service_code=hydrant_issue&description=".encode()
            for _ in range(20):
                yield b"x" * 8192

        response = api.client.post(
            f"{BASE}/requests.json",
            content=chunks(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 413
        assert api.store.count_requests() == 0


class TestRateLimit:
    @pytest.fixture
    def limited(self, store: Store) -> Iterator[Api]:
        yield from _client(store, Limits(posts_per_key=2, posts_per_address=3))

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_key_over_its_limit_gets_429_with_retry_after(self, limited: Api, fmt: str) -> None:
        assert [limited.post(fmt).status_code for _ in range(3)] == [200, 200, 429]
        refused = limited.post(fmt)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "try again in" in str(errors(refused, fmt)[0]["description"])
        assert limited.store.count_requests() == 2

    def test_address_limit_counts_refused_keys_too(self, limited: Api) -> None:
        codes = [limited.post(api_key="wdk_guess").status_code for _ in range(4)]
        assert codes == [403, 403, 403, 429]

    def test_reads_are_not_rate_limited(self, limited: Api) -> None:
        codes = {limited.client.get(f"{BASE}/services.json").status_code for _ in range(10)}
        assert codes == {200}

    def test_window_slides_and_lets_a_waiting_client_through(self) -> None:
        now = [0.0]
        window = SlidingWindow(2, 60, clock=lambda: now[0])
        assert [window.hit("a"), window.hit("a")] == [0, 0]
        now[0] = 30.0
        assert window.hit("a") == 30
        assert window.hit("b") == 0
        now[0] = 60.5
        assert window.hit("a") == 0


class TestSearch:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_search_filters_by_status_and_service(self, api: Api, fmt: str) -> None:
        hydrant = api.submit()
        outage = api.submit(service_code="water_outage")
        api.store.change_status(outage, "cancelled", actor="agent", expected_version=1)

        def ids(query: str) -> list[str | None]:
            response = api.client.get(f"{BASE}/requests.{fmt}?{query}")
            assert response.status_code == 200, response.text
            found = records(response, fmt, "service_requests", "request")
            return [r["service_request_id"] for r in found]

        assert ids("") == [outage, hydrant]
        assert ids("status=open") == [hydrant]
        assert ids("status=closed") == [outage]
        assert ids("status=open,closed") == [outage, hydrant]
        assert ids("service_code=water_outage") == [outage]
        assert ids("service_code=water_outage,hydrant_issue") == [outage, hydrant]
        assert ids(f"service_request_id={hydrant}") == [hydrant]
        assert ids(f"service_request_id={hydrant},{outage}&status=open") == [outage, hydrant]

    def test_search_by_date_window(self, api: Api) -> None:
        number = api.submit()
        created = api.store.get_request(number).created_at
        before = (created - timedelta(days=1)).isoformat()
        after = (created + timedelta(days=1)).isoformat()
        found = api.client.get(
            f"{BASE}/requests.json", params={"start_date": before, "end_date": after}
        ).json()
        assert [r["service_request_id"] for r in found] == [number]
        old = api.client.get(f"{BASE}/requests.json", params={"end_date": before}).json()
        assert old == []

    def test_pages_do_not_overlap(self, api: Api) -> None:
        numbers = [api.submit() for _ in range(5)]
        pages = [
            api.client.get(f"{BASE}/requests.json?page={p}&page_size=2").json() for p in (1, 2, 3)
        ]
        seen = [r["service_request_id"] for page in pages for r in page]
        assert [len(p) for p in pages] == [2, 2, 1]
        assert sorted(seen) == sorted(numbers)

    @pytest.mark.parametrize(
        ("query", "match"),
        [
            ("status=pending", "unknown status 'pending'"),
            ("status=OPEN", "unknown status"),
            ("start_date=yesterday", "start_date 'yesterday' is not a W3C date-time"),
            ("end_date=2025-13-01", "is not a W3C date-time"),
            ("start_date=2025-01-01T00:00:00", "has no time zone"),
            ("start_date=2025-01-01&end_date=2025-06-01", "the most one search may span"),
            ("start_date=2025-06-01&end_date=2025-01-01", "end_date is before start_date"),
            ("page_size=1001", "page_size: Input should be less than or equal to 1000"),
            ("page_size=0", "page_size"),
            ("page=0", "page"),
            ("page=two", "page"),
            ("extensions=maybe", "extensions"),
            ("service_code=pothole", "unknown service_code 'pothole'"),
        ],
    )
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_bad_search_parameter_is_400_with_a_clear_description(
        self, api: Api, fmt: str, query: str, match: str
    ) -> None:
        response = api.client.get(f"{BASE}/requests.{fmt}?{query}")
        assert response.status_code == 400
        [error] = errors(response, fmt)
        assert str(error["code"]) == "400"
        assert match in str(error["description"])


class TestLookupErrors:
    @pytest.mark.parametrize("fmt", FORMATS)
    @pytest.mark.parametrize("kind", ["requests", "tokens"])
    def test_mistyped_number_is_404_with_the_suggestion(
        self, api: Api, fmt: str, kind: str
    ) -> None:
        number = api.submit()
        canonical = tracking.normalise(number)
        slipped = canonical[:4] + ("Z" if canonical[4] != "Z" else "Y") + canonical[5:]
        response = api.client.get(f"{BASE}/{kind}/{slipped}.{fmt}")
        assert response.status_code == 404
        [error] = errors(response, fmt)
        assert error["suggestion"] == number
        assert f"Did you mean {number}?" in str(error["description"])

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_unknown_valid_number_is_404(self, api: Api, fmt: str) -> None:
        number = tracking.format_number(tracking.new_number())
        response = api.client.get(f"{BASE}/requests/{number}.{fmt}")
        assert response.status_code == 404
        assert "no request has the tracking number" in str(errors(response, fmt)[0]["description"])

    def test_malformed_number_is_400(self, api: Api) -> None:
        response = api.client.get(f"{BASE}/requests/ABC.json")
        assert response.status_code == 400
        assert "has 10 characters" in response.json()[0]["description"]

    def test_mistyped_number_in_search_is_400_with_the_suggestion(self, api: Api) -> None:
        number = api.submit()
        canonical = tracking.normalise(number)
        swapped = next(
            canonical[:i] + canonical[i + 1] + canonical[i] + canonical[i + 2 :]
            for i in range(9)
            if canonical[i] != canonical[i + 1]
        )
        response = api.client.get(f"{BASE}/requests.json?service_request_id={swapped}")
        assert response.status_code == 400
        assert response.json()[0]["suggestion"] == number


LOOKUPS = [
    "requests/{text}.json",
    "requests/{text}.xml",
    "tokens/{text}.json",
    "services/{text}.json",
    "requests.json?service_request_id={text}",
    "requests.xml?service_code={text}",
    "requests.json?status={text}",
    "requests.json?start_date={text}",
    "requests.json?end_date={text}",
    "requests.json?page={text}",
    "requests.json?page_size={text}",
    "requests.json?extensions={text}",
]


class TestHostileInput:
    @pytest.mark.parametrize("text", INJECTIONS)
    @pytest.mark.parametrize("lookup", LOOKUPS)
    def test_injection_in_every_lookup_is_refused(self, api: Api, lookup: str, text: str) -> None:
        number = api.submit()
        url = f"{BASE}/" + lookup.format(text=text.replace("?", "%3F").replace("#", "%23"))
        response = api.client.get(url)
        assert response.status_code in (400, 404), response.text
        if ".xml" in lookup:
            ET.fromstring(response.content)
        assert api.store.count_requests() == 1
        assert len(api.store.events_for(number)) == 1

    @pytest.mark.parametrize("text", INJECTIONS)
    def test_injection_as_api_key_is_403(self, api: Api, text: str) -> None:
        assert api.post(api_key=text).status_code == 403
        assert api.store.count_requests() == 0

    @pytest.mark.parametrize("text", INJECTIONS)
    def test_injection_in_text_fields_reads_back_verbatim(self, api: Api, text: str) -> None:
        number = api.submit(description=text, address_string=text)
        for fmt in FORMATS:
            response = api.client.get(f"{BASE}/requests/{number}.{fmt}")
            [view] = records(response, fmt, "service_requests", "request")
            assert view["description"] == view["address"] == text


class TestContactPrivacy:
    CONTACT: ClassVar[dict[str, str]] = {
        "email": "pat.private@example.ca",
        "phone": "306-555-0199",
        "first_name": "Patricia",
        "last_name": "Zzyzxsecret",
    }

    def test_contact_details_appear_in_no_get_answer(self, api: Api) -> None:
        number = api.submit(**self.CONTACT)
        assert api.store.contact_for(number) is not None
        api.store.add_note(number, "on it", actor="dispatch", public=True)
        paths = [
            f"requests/{number}.{{fmt}}",
            f"requests/{number}.{{fmt}}?extensions=true",
            "requests.{fmt}",
            "requests.{fmt}?extensions=true&status=open",
            f"requests.{{fmt}}?service_request_id={number}",
            f"tokens/{number}.{{fmt}}",
            "services.{fmt}",
            "discovery.{fmt}",
        ]
        probes = [*self.CONTACT.values(), "3065550199", "Patricia Zzyzxsecret"]
        for path in paths:
            for fmt in FORMATS:
                response = api.client.get(f"{BASE}/" + path.format(fmt=fmt))
                assert response.status_code == 200
                for probe in probes:
                    assert probe.lower() not in response.text.lower(), (path, fmt, probe)

    def test_contact_details_typed_into_the_description_are_removed(self, api: Api) -> None:
        number = api.submit(description="no water, call me 306-555-0199 or pat@example.ca")
        for fmt in FORMATS:
            response = api.client.get(f"{BASE}/requests/{number}.{fmt}")
            assert response.status_code == 200
            assert "no water, call me" in response.text
            assert "0199" not in response.text
            assert "pat@example.ca" not in response.text
