"""The simulated PBX: configuration, state and behaviour, independent of HTTP."""

from .config import PbxConfig, Timing, load_pbx_file, parse_pbx
from .core import Endpoint, Pbx

__all__ = ["Endpoint", "Pbx", "PbxConfig", "Timing", "load_pbx_file", "parse_pbx"]
