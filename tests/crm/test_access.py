"""API keys and staff tokens: issued once, stored only as hashes, revoked at once."""

from __future__ import annotations

import pytest

from crm import access
from crm.errors import NotFoundError
from crm.store import Store


class TestApiKeys:
    def test_create_returns_a_key_that_verifies(self, store: Store) -> None:
        record, key = access.create_api_key(store, "Open311 app")
        assert key.startswith("wdk_")
        assert len(key) > 40
        assert key.startswith(record.prefix)
        assert access.verify_api_key(store, key).id == record.id

    def test_only_the_hash_is_stored(self, store: Store) -> None:
        _record, key = access.create_api_key(store, "hash check")
        with store.transaction(write=False) as tx:
            rows = tx.all("SELECT * FROM api_keys")
        assert all(key not in str(row.values()) for row in rows)
        assert access.hash_secret(key) in {row["key_hash"] for row in rows}

    def test_list_shows_names_and_prefixes_not_keys(self, store: Store) -> None:
        record, key = access.create_api_key(store, "listed client")
        listed = {k.id: k for k in access.list_api_keys(store)}
        assert listed[record.id].name == "listed client"
        assert key not in repr(listed[record.id])

    def test_revoked_key_no_longer_verifies(self, store: Store) -> None:
        record, key = access.create_api_key(store, "leaving")
        revoked = access.revoke_api_key(store, record.id)
        assert not revoked.is_active
        assert access.revoke_api_key(store, record.id).revoked_at == revoked.revoked_at
        with pytest.raises(access.AccessError, match="not valid"):
            access.verify_api_key(store, key)
        active = {k.id for k in access.list_api_keys(store, include_revoked=False)}
        assert record.id not in active

    @pytest.mark.parametrize(
        "presented", [None, "", "wdk_nope", "x" * 500, "'; DROP TABLE api_keys; --"]
    )
    def test_unknown_key_is_refused(self, store: Store, presented: str | None) -> None:
        with pytest.raises(access.AccessError):
            access.verify_api_key(store, presented)

    def test_revoke_unknown_id_says_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError, match="no API key has the id 999999"):
            access.revoke_api_key(store, 999_999)

    @pytest.mark.parametrize("name", ["", "   ", "x" * 101, "tab\there"])
    def test_bad_name_is_refused(self, store: Store, name: str) -> None:
        with pytest.raises(ValueError, match="printable name"):
            access.create_api_key(store, name)


class TestStaffTokens:
    def test_crew_token_carries_its_crew(self, store: Store) -> None:
        crew = store.add_crew("South 2", ["sewer"])
        record, token = access.create_staff_token(store, "south tablet", crew="south 2")
        assert token.startswith("wds_")
        verified = access.verify_staff_token(store, token)
        assert verified.id == record.id
        assert verified.crew_id == crew.id

    def test_staff_user_token_has_no_crew(self, store: Store) -> None:
        _record, token = access.create_staff_token(store, "dispatcher")
        assert access.verify_staff_token(store, token).crew_id is None

    def test_unknown_crew_is_named_in_the_error(self, store: Store) -> None:
        store.add_crew("North 1", ["water"])
        with pytest.raises(NotFoundError, match=r"no crew is named 'Ghost'.*North 1"):
            access.create_staff_token(store, "ghost tablet", crew="Ghost")

    def test_revoked_token_no_longer_verifies(self, store: Store) -> None:
        record, token = access.create_staff_token(store, "temp")
        access.revoke_staff_token(store, record.id)
        with pytest.raises(access.AccessError, match="not valid"):
            access.verify_staff_token(store, token)
        assert record.id in {t.id for t in access.list_staff_tokens(store)}
        assert record.id not in {
            t.id for t in access.list_staff_tokens(store, include_revoked=False)
        }

    def test_api_key_is_not_a_staff_token(self, store: Store) -> None:
        _record, key = access.create_api_key(store, "client")
        with pytest.raises(access.AccessError):
            access.verify_staff_token(store, key)

    def test_revoke_unknown_token_says_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError, match="no staff token"):
            access.revoke_staff_token(store, 999_999)
