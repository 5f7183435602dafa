"""Bad input answers 4xx with a JSON error that says what is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.auth import Role
from tests.service.conftest import AppFactory, auth, new_token


def assert_error(response: Any, status: int, code: str, match: str | None = None) -> None:
    """The answer has ``status`` and the JSON error body with ``code``."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    if match is not None:
        assert match in error["message"]


class TestUploads:
    def test_non_dicom(self, client: TestClient, tokens: dict[Role, str]) -> None:
        """A body that is not DICOM is refused as not_dicom."""
        response = client.post(
            "/api/v1/scans",
            content=b"%PDF-1.7 definitely not a scan" * 10,
            headers={**auth(tokens[Role.STATION]), "Content-Type": "application/dicom"},
        )
        assert_error(response, 422, "not_dicom")

    def test_truncated(
        self, client: TestClient, tokens: dict[Role, str], clear_scan: bytes
    ) -> None:
        """A DICOM file cut short is refused as truncated."""
        response = client.post(
            "/api/v1/scans",
            content=clear_scan[: len(clear_scan) // 2],
            headers={**auth(tokens[Role.STATION]), "Content-Type": "application/dicom"},
        )
        assert_error(response, 422, "truncated")

    def test_empty(self, client: TestClient, tokens: dict[Role, str]) -> None:
        """An empty body says how to send the file."""
        response = client.post(
            "/api/v1/scans",
            content=b"",
            headers={**auth(tokens[Role.STATION]), "Content-Type": "application/dicom"},
        )
        assert_error(response, 422, "empty_body", "application/dicom")

    def test_oversized(self, make_client: AppFactory, clear_scan: bytes) -> None:
        """A file above SCANGUARD_MAX_UPLOAD_MB is refused with 413, raw or multipart."""
        client = make_client(max_upload_mb=len(clear_scan) / 2 / 1024 / 1024)
        token = new_token(client, Role.STATION)
        raw = client.post(
            "/api/v1/scans",
            content=clear_scan,
            headers={**auth(token), "Content-Type": "application/dicom"},
        )
        assert_error(raw, 413, "payload_too_large", "SCANGUARD_MAX_UPLOAD_MB")
        multipart = client.post(
            "/api/v1/scans", files={"file": ("a.dcm", clear_scan)}, headers=auth(token)
        )
        assert_error(multipart, 413, "payload_too_large")

    @pytest.mark.parametrize("content_type", ["text/plain", "application/json", "image/png", ""])
    def test_wrong_content_type(
        self, client: TestClient, tokens: dict[Role, str], clear_scan: bytes, content_type: str
    ) -> None:
        """Content types other than DICOM or multipart are refused with 415."""
        response = client.post(
            "/api/v1/scans",
            content=clear_scan,
            headers={**auth(tokens[Role.STATION]), "Content-Type": content_type},
        )
        assert_error(response, 415, "unsupported_media_type", "application/dicom")

    def test_multipart_without_file(self, client: TestClient, tokens: dict[Role, str]) -> None:
        """A multipart body without the 'file' field is refused."""
        response = client.post(
            "/api/v1/scans",
            data={"station_id": "x"},
            files={"other": ("a", b"x")},
            headers=auth(tokens[Role.STATION]),
        )
        assert_error(response, 422, "invalid_parameter", "'file'")

    def test_too_long_field(
        self, client: TestClient, tokens: dict[Role, str], clear_scan: bytes
    ) -> None:
        """An over-long station_id is refused, whether a query or a form field."""
        headers = auth(tokens[Role.STATION])
        query = client.post(
            "/api/v1/scans",
            params={"station_id": "x" * 65},
            content=clear_scan,
            headers={**headers, "Content-Type": "application/dicom"},
        )
        assert_error(query, 422, "invalid_parameter", "station_id")
        form = client.post(
            "/api/v1/scans",
            data={"station_id": "x" * 65},
            files={"file": ("a.dcm", clear_scan)},
            headers=headers,
        )
        assert_error(form, 422, "invalid_parameter", "station_id")

    def test_refusals_store_nothing(self, client: TestClient, tokens: dict[Role, str]) -> None:
        """A refused upload leaves no scan behind (but is audited)."""
        client.post(
            "/api/v1/scans",
            content=b"junk",
            headers={**auth(tokens[Role.STATION]), "Content-Type": "application/dicom"},
        )
        services = client.app.state.services  # type: ignore[attr-defined]
        assert services.store.count_scans() == 0
        assert not any(services.store.blobs.root.rglob("*[0-9a-f]" * 8))


class TestParameters:
    @pytest.mark.parametrize(
        ("params", "match"),
        [
            ({"limit": 0}, "limit"),
            ({"limit": 501}, "limit"),
            ({"offset": -1}, "offset"),
            ({"decision": "MAYBE"}, "decision"),
            ({"since": "yesterday"}, "since"),
            ({"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"}, "before"),
        ],
    )
    def test_bad_list_parameters(
        self, client: TestClient, tokens: dict[Role, str], params: dict[str, Any], match: str
    ) -> None:
        """Out-of-range or malformed filters are refused naming the parameter."""
        response = client.get("/api/v1/scans", params=params, headers=auth(tokens[Role.OPERATOR]))
        assert_error(response, 422, "invalid_parameter", match)

    @pytest.mark.parametrize(
        "params",
        [{"window": 0}, {"window": "wide"}, {"colormap": "rainbow"}, {"invert": "perhaps"}],
    )
    def test_bad_image_parameters(
        self,
        client: TestClient,
        tokens: dict[Role, str],
        clear_scan: bytes,
        params: dict[str, Any],
    ) -> None:
        """Bad display parameters are refused before rendering."""
        scan = client.post(
            "/api/v1/scans",
            content=clear_scan,
            headers={**auth(tokens[Role.STATION]), "Content-Type": "application/dicom"},
        ).json()
        response = client.get(
            f"/api/v1/scans/{scan['id']}/image.png",
            params=params,
            headers=auth(tokens[Role.OPERATOR]),
        )
        assert_error(response, 422, "invalid_parameter", next(iter(params)))

    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/scans/0123456789abcdef0123456789abcdef",
            "/api/v1/scans/not-an-id",
            "/api/v1/scans/0123456789abcdef0123456789abcdef/dicom",
            "/api/v1/scans/..%2F..%2Fetc/image.png",
        ],
    )
    def test_unknown_scan(self, client: TestClient, tokens: dict[Role, str], path: str) -> None:
        """Unknown or malformed scan ids answer 404."""
        assert_error(client.get(path, headers=auth(tokens[Role.ADMIN])), 404, "not_found")

    def test_unknown_route_and_method(self, client: TestClient, tokens: dict[Role, str]) -> None:
        """Unknown endpoints and methods answer JSON errors too."""
        headers = auth(tokens[Role.ADMIN])
        assert_error(client.get("/api/v1/nothing", headers=headers), 404, "not_found")
        assert_error(client.put("/api/v1/scans", headers=headers), 405, "method_not_allowed")

    def test_review_unknown_scan(self, client: TestClient, tokens: dict[Role, str]) -> None:
        """Reviewing an unknown scan answers 404."""
        response = client.post(
            "/api/v1/scans/0123456789abcdef0123456789abcdef/review",
            json={"outcome": "confirmed"},
            headers=auth(tokens[Role.OPERATOR]),
        )
        assert_error(response, 404, "not_found")

    def test_review_not_json(self, client: TestClient, tokens: dict[Role, str]) -> None:
        """A review body that is not JSON is a 422 with a message."""
        response = client.post(
            "/api/v1/scans/0123456789abcdef0123456789abcdef/review",
            content=b"{not json",
            headers={**auth(tokens[Role.OPERATOR]), "Content-Type": "application/json"},
        )
        assert_error(response, 422, "invalid_parameter")


def test_oversized_json_body_is_refused_before_reading(
    make_client: AppFactory, clear_scan: bytes
) -> None:
    """Any request declaring a body beyond the limit (plus 1 MiB) is refused with 413."""
    client = make_client(max_upload_mb=0.5)
    token = new_token(client, Role.OPERATOR)
    big = b'{"outcome": "confirmed", "note": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.post(
        "/api/v1/scans/0123456789abcdef0123456789abcdef/review",
        content=big,
        headers={**auth(token), "Content-Type": "application/json"},
    )
    assert_error(response, 413, "payload_too_large", "SCANGUARD_MAX_UPLOAD_MB")
