"""Request dependencies: settings, services, store and the authenticated principal.

Tokens come in ``Authorization: Bearer <token>``. Routes that browsers load directly
(``<img>`` sources, downloads, ``EventSource``) also accept ``?token=<token>``
(dependencies named ``...Q``).
"""

# No ``from __future__ import annotations``: FastAPI resolves the closures' annotations.
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from service.auth import Permission, Principal
from service.config import Settings, get_settings
from service.errors import AuthenticationError, NotReadyError, PermissionDeniedError
from service.state import Services
from service.store import Store

_bearer = HTTPBearer(
    auto_error=False,
    description="API token from `scanguard token create --role ROLE`.",
)
_query_token = APIKeyQuery(
    name="token",
    auto_error=False,
    description="The API token, for clients that cannot send headers (img, EventSource).",
)

SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_services(request: Request) -> Services:
    """The running service's objects (503 while starting)."""
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        raise NotReadyError("the service is starting; retry in a few seconds")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_store(services: ServicesDep) -> Store:
    """The scan store."""
    return services.store


StoreDep = Annotated[Store, Depends(get_store)]


def _authenticate(services: Services, plain: str | None) -> Principal:
    if not plain:
        raise AuthenticationError(
            "no API token: send 'Authorization: Bearer <token>' (create one with "
            "'scanguard token create --role operator')"
        )
    principal = services.store.authenticate(plain)
    if principal is None:
        raise AuthenticationError(
            "the API token is unknown, malformed or revoked; ask an administrator for a new one"
        )
    return principal


def principal_from_header(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The principal of the bearer token."""
    return _authenticate(services, credentials.credentials if credentials else None)


def principal_from_header_or_query(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[str | None, Depends(_query_token)],
) -> Principal:
    """The principal of the bearer token, or of the ``token`` query parameter."""
    return _authenticate(services, credentials.credentials if credentials else token)


def require(
    permission: Permission | None, *, allow_query_token: bool = False
) -> Callable[[Principal], Principal]:
    """Dependency factory: the principal, if its role grants ``permission`` (403 otherwise).

    ``permission=None`` accepts any valid token.
    """
    base = principal_from_header_or_query if allow_query_token else principal_from_header

    def _dependency(principal: Annotated[Principal, Depends(base)]) -> Principal:
        if permission is not None and not principal.can(permission):
            raise PermissionDeniedError(
                f"a {principal.role.value} token may not {permission.value.replace('_', ' ')}; "
                "use a token of a role that may"
            )
        return principal

    return _dependency


AnyPrincipal = Annotated[Principal, Depends(require(None))]
Submitter = Annotated[Principal, Depends(require(Permission.SUBMIT))]
Viewer = Annotated[Principal, Depends(require(Permission.VIEW))]
ViewerQ = Annotated[Principal, Depends(require(Permission.VIEW, allow_query_token=True))]
Reviewer = Annotated[Principal, Depends(require(Permission.REVIEW))]
ExporterQ = Annotated[Principal, Depends(require(Permission.EXPORT, allow_query_token=True))]
Admin = Annotated[Principal, Depends(require(Permission.MANAGE_TOKENS))]
