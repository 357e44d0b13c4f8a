"""The O2G simulator: a real O2G gateway over a simulated PBX.

``async with Simulator() as sim:`` serves the default PBX on 127.0.0.1 at
``sim.url``; ``o2g-flows sim`` runs it standalone. The names below are imported on
first use: aiohttp (whose connector builds SSL contexts at import) and the PBX are
loaded only where a simulator actually runs.
"""

from __future__ import annotations

from .._lazy import lazy_names

__all__ = [
    "CONTROL_TOKEN_HEADER",
    "ErrorType",
    "Pbx",
    "PbxConfig",
    "RestError",
    "Simulator",
    "Timing",
    "load_pbx_file",
    "parse_pbx",
]

#: Header carrying the ``--control-token`` on ``/sim`` requests.
CONTROL_TOKEN_HEADER = "X-Control-Token"

_HOMES = {
    "ErrorType": ".errors",
    "RestError": ".errors",
    "Pbx": ".pbx",
    "PbxConfig": ".pbx",
    "Timing": ".pbx",
    "load_pbx_file": ".pbx",
    "parse_pbx": ".pbx",
    "Simulator": ".server",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES)
