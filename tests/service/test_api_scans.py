"""Scan submission, listing, retrieval, rendering and review through the HTTP API."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from service.auth import Role
from service.store.models import ScanRow
from tests.service.conftest import AppFactory, FailingDetector, FakeDetector, auth, new_token

DICOM = {"Content-Type": "application/dicom"}


def submit(client: TestClient, token: str, data: bytes, **params: Any) -> Any:
    """POST a raw DICOM body."""
    return client.post(
        "/api/v1/scans", content=data, params=params, headers={**auth(token), **DICOM}
    )


class TestSubmit:
    def test_raw_dicom_answers_201_with_result(
        self, client: TestClient, tokens: dict[Role, str], alarm_scan: bytes
    ) -> None:
        """A raw application/dicom upload is stored and answered with its full result."""
        response = submit(
            client,
            tokens[Role.STATION],
            alarm_scan,
            station_id="gate-1",
            person_ref="P42",
            reason="reception",
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["source"] == "http"
        assert body["status"] == "processed"
        assert body["station_id"] == "gate-1"
        assert body["person_ref"] == "P42"
        assert body["reason"] == "reception"
        assert body["review"] is None
        result = body["result"]
        assert result["decision"] == "ALARM"
        assert result["model"]["name"] == "test-detector"
        (finding,) = result["findings"]
        assert finding["label"] == "phone"
        assert finding["zone"] == "abdomen"
        assert len(finding["bbox_px"]) == 4 and len(finding["bbox_mm"]) == 4
        assert result["image"]["rows"] == 160 and result["image"]["cols"] == 80
        assert result["timings"]["decode_ms"] > 0
        assert body["sop_instance_uid"] and body["sop_instance_uid"] == result["sop_instance_uid"]
        assert dt.datetime.fromisoformat(body["received_at"]).tzinfo is not None

    def test_multipart_with_form_fields(
        self, client: TestClient, tokens: dict[Role, str], clear_scan: bytes
    ) -> None:
        """A multipart upload takes station, person and reason from form fields."""
        response = client.post(
            "/api/v1/scans",
            files={"file": ("scan.dcm", clear_scan, "application/dicom")},
            data={"station_id": "gate-2", "person_ref": "P7", "reason": "visit"},
            headers=auth(tokens[Role.STATION]),
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["station_id"], body["person_ref"], body["reason"]) == ("gate-2", "P7", "visit")
        assert body["result"]["decision"] == "CLEAR"
        assert body["result"]["findings"] == []

    def test_station_defaults_to_station_token_name(
        self, client: TestClient, clear_scan: bytes
    ) -> None:
        """Without station_id, a station token's name identifies the station."""
        token = new_token(client, Role.STATION, "west-gate")
        assert submit(client, token, clear_scan).json()["station_id"] == "west-gate"

    def test_scan_is_stored_before_detection(
        self, make_client: AppFactory, clear_scan: bytes
    ) -> None:
        """The row is committed (status received) before the detector runs."""
        seen: list[str] = []

        class Spy(FakeDetector):
            store: Any = None

            def detect(self, scan: Any, *, decode_ms: float = 0.0) -> Any:
                with self.store.db.read() as session:
                    seen.extend(row.status for row in session.query(ScanRow).all())
                return super().detect(scan, decode_ms=decode_ms)

        spy = Spy()
        client = make_client(detector=spy)
        spy.store = client.app.state.services.store  # type: ignore[attr-defined]
        token = new_token(client, Role.STATION)
        assert submit(client, token, clear_scan).status_code == 201
        assert seen == ["received"]

    def test_detector_failure_keeps_the_scan(
        self, make_client: AppFactory, clear_scan: bytes
    ) -> None:
        """A failing detector answers 503 with the scan id; the scan stays retrievable."""
        client = make_client(detector=FailingDetector())
        station, operator = new_token(client, Role.STATION), new_token(client, Role.ADMIN)
        response = submit(client, station, clear_scan)
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "detector_failed"
        scan = client.get(f"/api/v1/scans/{error['scan_id']}", headers=auth(operator)).json()
        assert scan["status"] == "failed"
        assert "inference session crashed" in scan["error"]
        assert scan["result"] is None
        original = client.get(f"/api/v1/scans/{error['scan_id']}/dicom", headers=auth(operator))
        assert original.content == clear_scan


class TestRead:
    @pytest.fixture
    def stored(
        self, client: TestClient, tokens: dict[Role, str], clear_scan: bytes, alarm_scan: bytes
    ) -> list[dict[str, Any]]:
        """Three scans from two stations."""
        station = tokens[Role.STATION]
        return [
            submit(client, station, clear_scan, station_id="a").json(),
            submit(client, station, alarm_scan, station_id="b").json(),
            submit(client, station, clear_scan, station_id="b").json(),
        ]

    def test_get_scan(
        self, client: TestClient, tokens: dict[Role, str], stored: list[dict[str, Any]]
    ) -> None:
        """GET /scans/{id} returns what POST returned."""
        response = client.get(
            f"/api/v1/scans/{stored[1]['id']}", headers=auth(tokens[Role.OPERATOR])
        )
        assert response.status_code == 200
        assert response.json() == stored[1]

    def test_list_newest_first_with_paging(
        self, client: TestClient, tokens: dict[Role, str], stored: list[dict[str, Any]]
    ) -> None:
        """Pages follow offset/limit, newest first, with the total count."""
        headers = auth(tokens[Role.OPERATOR])
        first = client.get("/api/v1/scans", params={"limit": 2}, headers=headers).json()
        second = client.get("/api/v1/scans", params={"limit": 2, "offset": 2}, headers=headers)
        assert first["count"] == 3 and second.json()["count"] == 3
        ids = [s["id"] for s in first["data"]] + [s["id"] for s in second.json()["data"]]
        assert ids == [s["id"] for s in reversed(stored)]

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"station_id": "b"}, [2, 1]),
            ({"decision": "ALARM"}, [1]),
            ({"decision": "CLEAR", "station_id": "b"}, [2]),
            ({"status": "processed"}, [2, 1, 0]),
        ],
    )
    def test_list_filters(
        self,
        client: TestClient,
        tokens: dict[Role, str],
        stored: list[dict[str, Any]],
        params: dict[str, str],
        expected: list[int],
    ) -> None:
        """Station, decision and status filters select the matching scans."""
        body = client.get(
            "/api/v1/scans", params=params, headers=auth(tokens[Role.VALIDATOR])
        ).json()
        assert [s["id"] for s in body["data"]] == [stored[i]["id"] for i in expected]
        assert body["count"] == len(expected)

    def test_list_date_range(
        self, client: TestClient, tokens: dict[Role, str], stored: list[dict[str, Any]]
    ) -> None:
        """since is inclusive, until exclusive; timezone offsets are honoured."""
        headers = auth(tokens[Role.OPERATOR])
        t1 = dt.datetime.fromisoformat(stored[1]["received_at"])
        body = client.get("/api/v1/scans", params={"since": t1.isoformat()}, headers=headers).json()
        assert [s["id"] for s in body["data"]] == [stored[2]["id"], stored[1]["id"]]
        local = t1.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat()
        body = client.get("/api/v1/scans", params={"until": local}, headers=headers).json()
        assert [s["id"] for s in body["data"]] == [stored[0]["id"]]
        future = (t1 + dt.timedelta(days=1)).isoformat()
        assert client.get("/api/v1/scans", params={"since": future}, headers=headers).json() == {
            "data": [],
            "count": 0,
        }

    def test_original_bytes_are_returned_unchanged(
        self, client: TestClient, tokens: dict[Role, str], alarm_scan: bytes
    ) -> None:
        """GET /scans/{id}/dicom returns the exact uploaded bytes."""
        scan = submit(client, tokens[Role.STATION], alarm_scan).json()
        response = client.get(
            f"/api/v1/scans/{scan['id']}/dicom", headers=auth(tokens[Role.VALIDATOR])
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/dicom"
        assert response.content == alarm_scan

    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"window": 3.0, "level": 1.5, "invert": "true"},
            {"colormap": "density", "boxes": "false"},
            {"enhance": "true"},
        ],
    )
    def test_image_png(
        self,
        client: TestClient,
        tokens: dict[Role, str],
        alarm_scan: bytes,
        params: dict[str, Any],
    ) -> None:
        """The PNG rendering has the scan's size and honours the display parameters."""
        scan = submit(client, tokens[Role.STATION], alarm_scan).json()
        response = client.get(
            f"/api/v1/scans/{scan['id']}/image.png",
            params={**params, "token": tokens[Role.OPERATOR]},
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(response.content))
        assert image.size == (80, 160)

    def test_image_renders_from_cache_or_store(
        self, client: TestClient, tokens: dict[Role, str], clear_scan: bytes
    ) -> None:
        """A scan evicted from the decode cache is decoded again from the stored original."""
        scan = submit(client, tokens[Role.STATION], clear_scan).json()
        services = client.app.state.services  # type: ignore[attr-defined]
        services.cache._items.clear()
        headers = auth(tokens[Role.OPERATOR])
        first = client.get(f"/api/v1/scans/{scan['id']}/image.png", headers=headers)
        hits = services.cache.hits
        second = client.get(f"/api/v1/scans/{scan['id']}/image.png", headers=headers)
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        assert services.cache.hits == hits + 1


class TestReview:
    @pytest.fixture
    def scan(
        self, client: TestClient, tokens: dict[Role, str], alarm_scan: bytes
    ) -> dict[str, Any]:
        """A stored scan with one finding."""
        return submit(client, tokens[Role.STATION], alarm_scan).json()

    def test_review_is_stored_and_returned(
        self, client: TestClient, tokens: dict[Role, str], scan: dict[str, Any]
    ) -> None:
        """The review comes back with reviewer and time, in the answer and in later GETs."""
        headers = auth(tokens[Role.OPERATOR])
        body = {
            "outcome": "item_found",
            "note": "phone in waistband",
            "findings": [{"index": 0, "verdict": "confirmed"}],
        }
        response = client.post(f"/api/v1/scans/{scan['id']}/review", json=body, headers=headers)
        assert response.status_code == 200, response.text
        review = response.json()["review"]
        assert review["outcome"] == "item_found"
        assert review["note"] == "phone in waistband"
        assert review["findings"] == [{"index": 0, "verdict": "confirmed"}]
        assert review["reviewer"] == "test-operator"
        assert dt.datetime.fromisoformat(review["reviewed_at"]).tzinfo is not None
        again = client.get(f"/api/v1/scans/{scan['id']}", headers=headers).json()
        assert again["review"] == review
        listed = client.get("/api/v1/scans", headers=headers).json()["data"][0]
        assert listed["review"] == review

    def test_latest_review_wins(
        self, client: TestClient, tokens: dict[Role, str], scan: dict[str, Any]
    ) -> None:
        """A second review replaces the first in the scan's view."""
        headers = auth(tokens[Role.OPERATOR])
        url = f"/api/v1/scans/{scan['id']}/review"
        client.post(url, json={"outcome": "confirmed"}, headers=headers)
        client.post(url, json={"outcome": "nothing_found"}, headers=headers)
        assert (
            client.get(f"/api/v1/scans/{scan['id']}", headers=headers).json()["review"]["outcome"]
            == "nothing_found"
        )

    @pytest.mark.parametrize(
        ("body", "match"),
        [
            ({"outcome": "maybe"}, "outcome"),
            (
                {"outcome": "confirmed", "findings": [{"index": 5, "verdict": "confirmed"}]},
                r"indices \[5\] do not exist",
            ),
            (
                {
                    "outcome": "confirmed",
                    "findings": [
                        {"index": 0, "verdict": "confirmed"},
                        {"index": 0, "verdict": "rejected"},
                    ],
                },
                "only once",
            ),
            ({"outcome": "confirmed", "findings": [{"index": 0, "verdict": "unsure"}]}, "verdict"),
            ({"outcome": "confirmed", "extra": 1}, "extra"),
        ],
    )
    def test_bad_review_is_422(
        self,
        client: TestClient,
        tokens: dict[Role, str],
        scan: dict[str, Any],
        body: dict[str, Any],
        match: str,
    ) -> None:
        """Unknown outcomes, verdicts or finding indices are refused with a clear message."""
        response = client.post(
            f"/api/v1/scans/{scan['id']}/review", json=body, headers=auth(tokens[Role.OPERATOR])
        )
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_parameter"
        assert re.search(match, error["message"])


class TestEvents:
    def test_scan_and_review_events_are_published(
        self, client: TestClient, tokens: dict[Role, str], alarm_scan: bytes, monkeypatch: Any
    ) -> None:
        """Storing a scan publishes 'scan', reviewing publishes 'review', both as ScanPublic."""
        published: list[tuple[str, dict[str, Any]]] = []
        bus = client.app.state.events  # type: ignore[attr-defined]
        monkeypatch.setattr(bus, "publish", lambda kind, payload: published.append((kind, payload)))
        scan = submit(client, tokens[Role.STATION], alarm_scan).json()
        client.post(
            f"/api/v1/scans/{scan['id']}/review",
            json={"outcome": "confirmed"},
            headers=auth(tokens[Role.OPERATOR]),
        )
        kinds = [str(getattr(kind, "value", kind)) for kind, _ in published]
        assert kinds == ["scan", "review"]
        assert published[0][1] == scan
        assert published[1][1]["review"]["outcome"] == "confirmed"


def test_export_ndjson(
    client: TestClient, tokens: dict[Role, str], clear_scan: bytes, alarm_scan: bytes
) -> None:
    """Validators export every matching scan as NDJSON, filters applied; operators may not."""
    station = tokens[Role.STATION]
    ids = [submit(client, station, data).json()["id"] for data in (clear_scan, alarm_scan) * 2]
    response = client.get("/api/v1/scans/export.ndjson", headers=auth(tokens[Role.VALIDATOR]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in response.text.splitlines()]
    assert [row["id"] for row in rows] == list(reversed(ids))
    alarms = client.get(
        "/api/v1/scans/export.ndjson",
        params={"decision": "ALARM", "token": tokens[Role.VALIDATOR]},
    )
    assert [json.loads(line)["id"] for line in alarms.text.splitlines()] == [ids[3], ids[1]]
    denied = client.get("/api/v1/scans/export.ndjson", headers=auth(tokens[Role.OPERATOR]))
    assert denied.status_code == 403
