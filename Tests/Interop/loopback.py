"""Makes aiortc/aioice work on 127.0.0.1 only (see shared INTEROP.md).

aioice leaves 127.0.0.1 out when it gathers host candidates, and resolves `.local`
(mDNS) candidate names with multicast, which a loopback-only network namespace cannot
do. Importing this module patches both, once per process: the only host candidate is
127.0.0.1, and every `.local` name resolves to 127.0.0.1 (true in the tests' namespace,
where every peer lives on loopback).
"""

import aioice.ice

_patched = False


class _LoopbackMdns:
    async def resolve(self, hostname: str, timeout: float = 1.0) -> str:
        return "127.0.0.1"

    async def close(self) -> None:
        return None


_MDNS = _LoopbackMdns()


async def _get_mdns(subscriber: object) -> _LoopbackMdns:
    return _MDNS


async def _unref_mdns(subscriber: object) -> None:
    return None


def apply() -> None:
    global _patched
    if _patched:
        return
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []
    aioice.ice.get_or_create_mdns_protocol = _get_mdns
    aioice.ice.unref_mdns_protocol = _unref_mdns
    _patched = True


apply()
