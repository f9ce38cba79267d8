"""Service fixtures: a workspace with a read, an admin and a revoked API key."""

from __future__ import annotations

import pytest


@pytest.fixture()
def keyed_workspace(workspace):
    """A fresh workspace with a read key, an admin key and a revoked key."""
    from adwise.service import KeyStore

    ks = KeyStore(workspace.path)
    read, _ = ks.create("reader", "read")
    admin, _ = ks.create("boss", "admin")
    revoked, _ = ks.create("gone", "read")
    ks.revoke("gone")
    workspace.keys = {"read": read, "admin": admin, "revoked": revoked}
    return workspace
