"""Assertions on Spendwall's error bodies (PRODUCT.md §2, the error table)."""

from __future__ import annotations

from typing import Any

from .client import Response

MAX_ERROR_MESSAGE = 1024  # "never echo more than a short excerpt of client input"


def assert_openai_error(resp: Response, status: int, type_: str,
                        code: str | tuple[str, ...]) -> dict[str, Any]:
    """`code` may be a tuple where the spec allows several."""
    assert resp.status == status, resp
    assert (resp.header("content-type") or "").startswith("application/json"), resp
    body = resp.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error.get("type") == type_, body
    if isinstance(code, tuple):
        assert error.get("code") in code, body
    else:
        assert error.get("code") == code, body
    # The spec shows `"param":null`; OpenAI itself names the offending parameter there.
    assert "param" in error and (error["param"] is None or isinstance(error["param"], str)), body
    assert isinstance(error.get("message"), str) and error["message"], body
    assert len(error["message"]) <= MAX_ERROR_MESSAGE, body
    return error


def assert_anthropic_error(resp: Response, status: int, type_: str) -> dict[str, Any]:
    assert resp.status == status, resp
    assert (resp.header("content-type") or "").startswith("application/json"), resp
    body = resp.json()
    assert body.get("type") == "error", body
    assert set(body) == {"type", "error"}, body
    error = body["error"]
    assert error.get("type") == type_, body
    assert isinstance(error.get("message"), str) and error["message"], body
    assert len(error["message"]) <= MAX_ERROR_MESSAGE, body
    return error


def assert_error(resp: Response, anthropic: bool, status: int, openai: tuple[str, Any],
                 anthropic_type: str) -> dict[str, Any]:
    """The error in the caller's format: OpenAI (type, code) or Anthropic type."""
    if anthropic:
        return assert_anthropic_error(resp, status, anthropic_type)
    return assert_openai_error(resp, status, *openai)
