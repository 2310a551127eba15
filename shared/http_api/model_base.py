"""What every body model of the HTTP API shares: the base model (camelCase, no unknown fields)
and `shape`, which builds an answer through its model (see models.py)."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class ApiModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


M = TypeVar("M", bound=ApiModel)


def shape(model: type[M], body: dict[str, Any]) -> dict[str, Any]:
    """`body` checked against `model` and returned as the model dumps it (fields a view left
    out stay out; explicit nulls stay null). Raises pydantic.ValidationError when a view sends
    what the document does not describe: a bug, which its tests find."""
    return model.model_validate(body).model_dump(mode="json", by_alias=True, exclude_unset=True)
