"""The base of every API schema."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    """Base of every schema: in the OpenAPI document every field of a *response* is required (the server
    always sends it; nullable where it can be null), so a generated client never sees it as optional.
    Request schemas are unchanged: a field with a default stays optional in a request body."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)
