"""The VM sizes amlops accepts, with the vCPUs and memory that sizing decisions need."""

from __future__ import annotations

from typing import NamedTuple


class Sku(NamedTuple):
    """One Azure VM size: cores, memory (GiB), and where Azure ML lets it run."""

    name: str
    vcpus: int
    memory_gib: float
    online: bool  # allowed as a managed online deployment instance type
    compute: bool  # allowed as an AmlCompute cluster VM size


# A subset of Azure ML's supported list for managed online endpoints and AmlCompute
# (CPU sizes only: the loans model needs no GPU). Ordered from smallest to largest
# within each family; `amlops profile` picks the smallest that holds the load.
SKUS: tuple[Sku, ...] = (
    Sku("Standard_DS1_v2", 1, 3.5, online=True, compute=True),
    Sku("Standard_F2s_v2", 2, 4.0, online=True, compute=True),
    Sku("Standard_DS2_v2", 2, 7.0, online=True, compute=True),
    Sku("Standard_D2as_v4", 2, 8.0, online=True, compute=True),
    Sku("Standard_E2s_v3", 2, 16.0, online=True, compute=True),
    Sku("Standard_F4s_v2", 4, 8.0, online=True, compute=True),
    Sku("Standard_DS3_v2", 4, 14.0, online=True, compute=True),
    Sku("Standard_D4as_v4", 4, 16.0, online=True, compute=True),
    Sku("Standard_E4s_v3", 4, 32.0, online=True, compute=True),
    Sku("Standard_F8s_v2", 8, 16.0, online=True, compute=True),
    Sku("Standard_DS4_v2", 8, 28.0, online=True, compute=True),
    Sku("Standard_D8as_v4", 8, 32.0, online=True, compute=True),
    Sku("Standard_E8s_v3", 8, 64.0, online=True, compute=True),
    Sku("Standard_F16s_v2", 16, 32.0, online=True, compute=True),
    Sku("Standard_DS5_v2", 16, 56.0, online=True, compute=True),
    Sku("Standard_D16as_v4", 16, 64.0, online=True, compute=True),
)

BY_NAME: dict[str, Sku] = {s.name: s for s in SKUS}
ONLINE_INSTANCE_TYPES: tuple[str, ...] = tuple(s.name for s in SKUS if s.online)
COMPUTE_VM_SIZES: tuple[str, ...] = tuple(s.name for s in SKUS if s.compute)
