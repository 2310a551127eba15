"""Azure public-cloud region names, for rejecting typos before a copy is queued.

Sovereign clouds or new regions can be allowed with the EXTRA_REGIONS setting.
"""

from __future__ import annotations

import re

from shared.errors import InvalidResourceId

_REGION = re.compile(r"^[a-z][a-z0-9]{1,39}$")

PUBLIC_REGIONS = frozenset(
    [
        "australiacentral",
        "australiacentral2",
        "australiaeast",
        "australiasoutheast",
        "austriaeast",
        "belgiumcentral",
        "brazilsouth",
        "brazilsoutheast",
        "canadacentral",
        "canadaeast",
        "centralindia",
        "centralus",
        "centraluseuap",
        "chilecentral",
        "denmarkeast",
        "eastasia",
        "eastus",
        "eastus2",
        "eastus2euap",
        "francecentral",
        "francesouth",
        "germanynorth",
        "germanywestcentral",
        "indonesiacentral",
        "israelcentral",
        "italynorth",
        "japaneast",
        "japanwest",
        "jioindiacentral",
        "jioindiawest",
        "koreacentral",
        "koreasouth",
        "malaysiawest",
        "mexicocentral",
        "newzealandnorth",
        "northcentralus",
        "northeurope",
        "norwayeast",
        "norwaywest",
        "polandcentral",
        "qatarcentral",
        "southafricanorth",
        "southafricawest",
        "southcentralus",
        "southindia",
        "southeastasia",
        "spaincentral",
        "swedencentral",
        "swedensouth",
        "switzerlandnorth",
        "switzerlandwest",
        "uaecentral",
        "uaenorth",
        "uksouth",
        "ukwest",
        "westcentralus",
        "westeurope",
        "westindia",
        "westus",
        "westus2",
        "westus3",
    ]
)


def known_regions(extra: frozenset[str] = frozenset()) -> frozenset[str]:
    return PUBLIC_REGIONS | extra


def normalize_region(value: object, what: str = "region") -> str:
    """ARM region names: lower case letters and digits ("westeurope"); spaces are display names."""
    if not isinstance(value, str):
        raise InvalidResourceId(f"{what} must be a string such as 'eastus'")
    region = value.strip().lower()
    if not _REGION.match(region):
        raise InvalidResourceId(
            f"{what} {value!r} is not an Azure region name (lower case letters and digits, "
            "such as 'eastus' or 'westeurope')"
        )
    return region
