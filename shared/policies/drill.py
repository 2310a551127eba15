"""A policy's `drill` section: when its pairs get a restore drill, and where the drill's disks go.

    "drill": {"every": "7d", "resourceGroup": "rg-drills", "enabled": true}

- `every`: the drill interval, a whole number of minutes, hours or days (`30m`, `12h`, `7d`).
  The sweep starts a drill for a pair when its last drill is older than this, and the
  protection status calls a pair "untested" when it has no successful drill this recent.
- `resourceGroup`: where the drill creates its disks, in the target's subscription and region.
  It must exist: the app never creates resource groups (that needs a far broader permission
  than disks/write in one group). Default: the target's resource group.
- `enabled`: false keeps the interval for the status but starts no scheduled drill.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Strict, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from shared.errors import InvalidResourceId
from shared.model.ids import validate_resource_group_name

_EVERY = re.compile(r"([1-9][0-9]{0,5})([mhd])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def _resource_group(value: str) -> str:
    try:
        return validate_resource_group_name(value)
    except InvalidResourceId as exc:
        raise PydanticCustomError("policy", "{message}", {"message": str(exc)}) from None


class DrillPolicy(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
    )

    every: Annotated[str, Strict()]
    resource_group: Annotated[str, Strict(), AfterValidator(_resource_group)] | None = None
    enabled: Annotated[bool, Strict()] = True

    @field_validator("every")
    @classmethod
    def _every(cls, value: str) -> str:
        if not _EVERY.fullmatch(value):
            raise PydanticCustomError(
                "policy",
                "{message}",
                {"message": f"{value!r} is not an interval such as '30m', '12h' or '7d'"},
            )
        return value

    @property
    def interval_seconds(self) -> float:
        match = _EVERY.fullmatch(self.every)
        assert match is not None  # validated above
        return float(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
