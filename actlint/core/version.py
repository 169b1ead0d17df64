"""The package version and the version of the JSON/SARIF document contract."""

__version__ = "0.1.0"

#: The JSON/SARIF document version (bumped only when the public contract changes).
SCHEMA_VERSION = "1"
