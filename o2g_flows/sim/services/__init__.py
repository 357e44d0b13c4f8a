"""HTTP handlers of the O2G services, one module per service.

Importing this package imports every module in it, which registers the
handlers with ``o2g_flows.sim.api.endpoint``.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
