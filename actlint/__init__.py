"""actlint: a linter and advisor for PyTorch model architectures."""

__version__ = "0.1.0"

# The JSON/SARIF document version (bumped only when the public contract changes).
SCHEMA_VERSION = "1"
