"""Property-based calls generated from the served OpenAPI document: never a server error.

Schemathesis reads ``/openapi.json`` from the app in process and calls every operation
with generated parameters and bodies, on both backends. POSTs to Open311 carry a valid
api_key half of the time so that intake itself is exercised, not only the key check.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.internal.conjecture import utils as conjecture_utils
from schemathesis.checks import not_a_server_error

from api.app import create_app
from api.limits import Limits
from crm import access
from crm.store import Store

_KEYS: dict[str, str] = {}


def _more(self: Any) -> bool:
    """The ``many.more()`` of older Hypothesis, over the iterator protocol that replaced it.

    hypothesis-jsonschema 0.23 (which schemathesis 3 uses to draw objects) still calls
    ``more()``; the installed Hypothesis dropped it. Used only while both are installed.
    """
    iterator = getattr(self, "_more_iterator", None)
    if iterator is None:
        self.__enter__()
        iterator = self._more_iterator = iter(self)
    try:
        next(iterator)
    except StopIteration:
        self.__exit__(None)
        return False
    return True


if not hasattr(conjecture_utils.many, "more"):
    conjecture_utils.many.more = _more  # type: ignore[attr-defined]


@pytest.fixture
def served_schema(store: Store) -> Iterator[Any]:
    """The OpenAPI document of an app over an empty store, rate limits out of the way."""
    _record, _KEYS["api"] = access.create_api_key(store, "schemathesis")
    _record, _KEYS["staff"] = access.create_staff_token(store, "schemathesis staff")
    app = create_app(store, limits=Limits(posts_per_key=10**6, posts_per_address=10**6))
    # FastAPI writes OpenAPI 3.1; schemathesis 3 reads it with its 3.0 rules
    yield schemathesis.from_asgi("/openapi.json", app, force_schema_version="30")
    # collect the test clients schemathesis leaves open while this test's filters apply
    gc.collect()


schema = schemathesis.from_pytest_fixture("served_schema")


@pytest.mark.filterwarnings("ignore:The anyio.abc.BlockingPortal alias:DeprecationWarning")
# schemathesis 3 calls the app through a starlette TestClient it never closes
@pytest.mark.filterwarnings("ignore:Unclosed <MemoryObject:ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@schema.parametrize()
@settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_generated_calls_never_get_a_server_error(case: Any) -> None:
    body = case.body
    valid_key = len(str(body)) % 2 == 0
    if case.method == "POST" and isinstance(body, dict) and "api_key" in body and valid_key:
        body["api_key"] = _KEYS["api"]
    if case.path.startswith("/staff/"):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {_KEYS['staff']}"}
    response = case.call_asgi()
    case.validate_response(response, checks=(not_a_server_error,))
