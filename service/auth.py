"""Roles, permissions and API tokens.

A token reads ``sg_<id>_<secret>``: ``id`` finds the stored row, ``secret`` is 32 random
bytes (URL-safe base64) of which only the sha256 is stored and compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

TOKEN_PREFIX = "sg"
_TOKEN_RE = re.compile(r"^sg_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


class Role(StrEnum):
    """Who a token belongs to."""

    STATION = "station"
    OPERATOR = "operator"
    VALIDATOR = "validator"
    ADMIN = "admin"


class Permission(StrEnum):
    """What a request needs."""

    SUBMIT = "submit"
    VIEW = "view"
    REVIEW = "review"
    EXPORT = "export"
    MANAGE_TOKENS = "manage_tokens"


#: What each role may do (admin may do everything).
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.STATION: frozenset({Permission.SUBMIT}),
    Role.OPERATOR: frozenset({Permission.VIEW, Permission.REVIEW}),
    Role.VALIDATOR: frozenset({Permission.VIEW, Permission.EXPORT}),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller.

    Attributes
    ----------
    token_id : str
        Id of the token used (``"cli"`` or ``"dicom:<AE>"`` for non-HTTP actors).
    name : str
        Token name (the reviewer name stored with reviews).
    role : Role
    """

    token_id: str
    name: str
    role: Role

    def can(self, permission: Permission) -> bool:
        """Whether this principal's role grants ``permission``."""
        return permission in ROLE_PERMISSIONS[self.role]

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return f"token:{self.token_id}:{self.name}"


@dataclass(frozen=True)
class NewToken:
    """A freshly generated token: the plain text (shown once) and what is stored."""

    token_id: str
    plain: str
    secret_hash: str


def hash_secret(secret: str) -> str:
    """sha256 (hex) of a token secret."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def generate_token() -> NewToken:
    """Make a new random token (32-byte secret)."""
    token_id = secrets.token_hex(8)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    return NewToken(
        token_id=token_id,
        plain=f"{TOKEN_PREFIX}_{token_id}_{secret}",
        secret_hash=hash_secret(secret),
    )


def split_token(plain: str) -> tuple[str, str] | None:
    """``(token_id, secret)`` of a well-formed token, else ``None``."""
    match = _TOKEN_RE.match(plain.strip())
    if match is None:
        return None
    return match.group(1), match.group(2)


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
