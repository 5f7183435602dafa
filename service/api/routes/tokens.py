"""API tokens (administrators only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.deps import Admin, ServicesDep
from service.audit import AuditAction
from service.errors import NotFoundError
from service.schemas import ErrorBody, TokenCreate, TokenCreated, TokenPublic, TokensPublic

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 422)
}


@router.get("", response_model=TokensPublic, responses=_ERRORS, summary="List tokens")
def list_tokens(services: ServicesDep, principal: Admin) -> TokensPublic:
    """Every token (never the secrets)."""
    tokens = services.store.list_tokens()
    services.store.record(actor=principal.actor, action=AuditAction.TOKEN_LIST)
    return TokensPublic(data=tokens, count=len(tokens))


@router.post(
    "", status_code=201, response_model=TokenCreated, responses=_ERRORS, summary="Create a token"
)
def create_token(body: TokenCreate, services: ServicesDep, principal: Admin) -> TokenCreated:
    """A new token; its plain text is in the answer only this once."""
    public, plain = services.store.create_token(body.role, body.name, actor=principal.actor)
    return TokenCreated(**public.model_dump(), token=plain)


@router.delete(
    "/{token_id}", response_model=TokenPublic, responses=_ERRORS, summary="Revoke a token"
)
def revoke_token(token_id: str, services: ServicesDep, principal: Admin) -> TokenPublic:
    """Revoke a token (idempotent)."""
    public = services.store.revoke_token(token_id[:64], actor=principal.actor)
    if public is None:
        raise NotFoundError(f"no token has id {token_id!r}; list tokens with GET /api/v1/tokens")
    return public
