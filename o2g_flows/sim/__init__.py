"""The O2G simulator: a real O2G gateway over a simulated PBX.

``async with Simulator() as sim:`` serves the default PBX on 127.0.0.1 at
``sim.url``; ``o2g-flows sim`` runs it standalone.
"""

from .errors import ErrorType, RestError
from .pbx import Pbx, PbxConfig, Timing, load_pbx_file, parse_pbx
from .server import Simulator

__all__ = [
    "ErrorType",
    "Pbx",
    "PbxConfig",
    "RestError",
    "Simulator",
    "Timing",
    "load_pbx_file",
    "parse_pbx",
]
