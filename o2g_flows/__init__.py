"""o2g-flows: YAML automation for Alcatel-Lucent Enterprise O2G gateways."""

__version__ = "0.1.0"
