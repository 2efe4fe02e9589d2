from __future__ import annotations

from datetime import datetime
from typing import Any

from cellmon.core.api_types import ResponseModel


class AuditEntryResponse(ResponseModel):
    id: int
    at: datetime
    actor_id: int | None
    actor_email: str | None
    action: str
    target_type: str
    target_id: int | None
    detail: dict[str, Any]
