"""The live account the client tests share, and the admin calls that set records up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class LiveAccount:
    """The live server and its account, with an admin's API key to set records up."""

    base: str
    """``http://127.0.0.1:<port>``, the clients' ``api_url``."""
    id: str
    slug: str
    api_key: str
    public_key: str
    """64 hex characters: the clients' ``public_key``."""

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        return httpx.request(method, f"{self.base}/v1/{path}", json=body, headers=headers, timeout=30)

    def created(self, path: str, type_: str, attributes: dict[str, Any], **related: str) -> dict[str, Any]:
        """POST a record; its ``data``. ``related`` maps relationship names to policy or
        product ids."""
        types = {"policy": "policies", "product": "products"}
        relationships = {name: {"data": {"type": types[name], "id": id_}} for name, id_ in related.items()}
        record = {"type": type_, "attributes": attributes}
        body = {"data": record | {"relationships": relationships} if relationships else record}
        response = self.admin("POST", path, body)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def product(self) -> str:
        return str(self.created("products", "products", {"name": "Desktop App"})["id"])

    def policy(self, product: str, **attributes: Any) -> str:
        """A policy whose licenses authenticate with their key, as the clients do."""
        attributes = {"name": "Desktop", "authenticationStrategy": "LICENSE", **attributes}
        return str(self.created("policies", "policies", attributes, product=product)["id"])

    def license(self, policy: str, **attributes: Any) -> tuple[str, str]:
        """A license of ``policy``: (id, key)."""
        data = self.created("licenses", "licenses", attributes, policy=policy)
        return str(data["id"]), str(data["attributes"]["key"])

    def entitlement(self, code: str, **attributes: Any) -> str:
        """An entitlement with ``code`` (named after it unless told); its id."""
        attributes = {"name": code.title(), "code": code, **attributes}
        return str(self.created("entitlements", "entitlements", attributes)["id"])

    def attach(self, owner: str, *entitlements: str) -> None:
        """Attach entitlements to ``owner`` (``policies/<id>`` or ``licenses/<id>``)."""
        body = {"data": [{"type": "entitlements", "id": id_} for id_ in entitlements]}
        response = self.admin("POST", f"{owner}/entitlements", body)
        assert response.status_code == 200, response.text
