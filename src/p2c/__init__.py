"""p2c: Prospect-to-cash data integration for Dynamics 365."""

from p2c._errors import (
    ConfigError,
    ConnectionFailed,
    ExitCode,
    InputError,
    NotFoundError,
    P2CError,
    PrerequisiteError,
    ProjectBusy,
    RecordRejected,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ConnectionFailed",
    "ExitCode",
    "InputError",
    "NotFoundError",
    "P2CError",
    "PrerequisiteError",
    "ProjectBusy",
    "RecordRejected",
    "__version__",
]
