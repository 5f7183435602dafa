"""Tokens, roles and the per-route permission matrix."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.auth import Role, generate_token, secret_matches, split_token
from tests.service.conftest import auth

SCAN_ID = "0123456789abcdef0123456789abcdef"


class TestTokens:
    def test_generated_token_round_trip(self) -> None:
        """A token splits into its id and a secret matching only the stored hash."""
        new = generate_token()
        parts = split_token(new.plain)
        assert parts is not None and parts[0] == new.token_id
        assert secret_matches(parts[1], new.secret_hash)
        assert not secret_matches(
            parts[1][:-1] + ("A" if parts[1][-1] != "A" else "B"), new.secret_hash
        )
        assert new.plain.split("_", 2)[2] not in new.secret_hash

    @pytest.mark.parametrize("header", [None, "Bearer", "Bearer nonsense", "Basic dXNlcjpwdw=="])
    def test_missing_or_malformed_token(self, client: TestClient, header: str | None) -> None:
        """Requests without a valid bearer token answer 401."""
        headers = {"Authorization": header} if header else {}
        response = client.get("/api/v1/scans", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"

    def test_wrong_secret(self, client: TestClient, tokens: dict[Role, str]) -> None:
        """A known token id with a different secret answers 401."""
        token = tokens[Role.ADMIN]
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert client.get("/api/v1/scans", headers=auth(forged)).status_code == 401

    def test_revoked_token(self, client: TestClient, tokens: dict[Role, str]) -> None:
        """A revoked token stops working at once."""
        admin = auth(tokens[Role.ADMIN])
        created = client.post(
            "/api/v1/tokens", json={"role": "operator", "name": "night"}, headers=admin
        )
        assert created.status_code == 201
        body = created.json()
        assert client.get("/api/v1/scans", headers=auth(body["token"])).status_code == 200
        revoked = client.delete(f"/api/v1/tokens/{body['id']}", headers=admin)
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        assert client.get("/api/v1/scans", headers=auth(body["token"])).status_code == 401

    def test_token_routes(self, client: TestClient, tokens: dict[Role, str]) -> None:
        """Listing never shows secrets; revoking an unknown id is 404."""
        admin = auth(tokens[Role.ADMIN])
        listing = client.get("/api/v1/tokens", headers=admin).json()
        assert listing["count"] == 4
        assert {t["role"] for t in listing["data"]} == {r.value for r in Role}
        text = str(listing)
        assert all(token.split("_", 2)[2] not in text for token in tokens.values())
        missing = client.delete("/api/v1/tokens/ffffffffffffffff", headers=admin)
        assert missing.status_code == 404
        bad_role = client.post("/api/v1/tokens", json={"role": "root", "name": "x"}, headers=admin)
        assert bad_role.status_code == 422

    def test_only_hashes_are_stored(self, client: TestClient, tokens: dict[Role, str]) -> None:
        """The database file holds no token secret."""
        services = client.app.state.services  # type: ignore[attr-defined]
        services.store.close()
        db_files = list(services.settings.data_dir.glob("scanguard.db*"))
        content = b"".join(path.read_bytes() for path in db_files)
        assert db_files
        for token in tokens.values():
            assert token.split("_", 2)[2].encode() not in content


# (method, path, permission holders)
ROUTES: list[tuple[str, str, set[Role]]] = [
    ("POST", "/api/v1/scans", {Role.STATION, Role.ADMIN}),
    ("GET", "/api/v1/scans", {Role.OPERATOR, Role.VALIDATOR, Role.ADMIN}),
    ("GET", f"/api/v1/scans/{SCAN_ID}", {Role.OPERATOR, Role.VALIDATOR, Role.ADMIN}),
    ("GET", f"/api/v1/scans/{SCAN_ID}/image.png", {Role.OPERATOR, Role.VALIDATOR, Role.ADMIN}),
    ("GET", f"/api/v1/scans/{SCAN_ID}/dicom", {Role.VALIDATOR, Role.ADMIN}),
    ("GET", "/api/v1/scans/export.ndjson", {Role.VALIDATOR, Role.ADMIN}),
    ("POST", f"/api/v1/scans/{SCAN_ID}/review", {Role.OPERATOR, Role.ADMIN}),
    ("GET", "/api/v1/tokens", {Role.ADMIN}),
    ("POST", "/api/v1/tokens", {Role.ADMIN}),
    ("DELETE", "/api/v1/tokens/ffffffffffffffff", {Role.ADMIN}),
    ("GET", "/metrics", set(Role)),
]


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTES)
def test_role_matrix(
    client: TestClient,
    tokens: dict[Role, str],
    method: str,
    path: str,
    allowed: set[Role],
) -> None:
    """Each role gets past authorisation exactly on the routes its permissions cover."""
    for role in Role:
        kwargs: dict[str, Any] = {"headers": auth(tokens[role])}
        if path.endswith("/review"):
            kwargs["json"] = {"outcome": "confirmed"}
        response = client.request(method, path, **kwargs)
        if role in allowed:
            assert response.status_code != 403, (role, response.text)
            assert response.status_code != 401
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.json()["error"]["code"] == "forbidden"


def test_query_token_only_where_allowed(client: TestClient, tokens: dict[Role, str]) -> None:
    """?token= works for the image and download routes, not for JSON routes."""
    token = tokens[Role.ADMIN]
    image = client.get(f"/api/v1/scans/{SCAN_ID}/image.png", params={"token": token})
    assert image.status_code == 404  # authenticated, then: unknown scan
    listing = client.get("/api/v1/scans", params={"token": token})
    assert listing.status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/docs", "/openapi.json"])
def test_public_endpoints(client: TestClient, path: str) -> None:
    """Health checks and the API documentation need no token."""
    assert client.get(path).status_code == 200
