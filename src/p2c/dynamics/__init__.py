"""The public model of Dynamics 365: the entities and fields of Sales (Dataverse), Finance
and Operations and the CDS hub, their keys, option sets and reference data.

One source for the sandbox (its tables and rules), the emulator (its data and metadata),
the connectors (their requests) and the engine (what differs per entity). Facts come from
Microsoft's public documentation; the reference notes mark each EXACT, DERIVED or INFERRED.
"""

from p2c.dynamics._cds import CDS_ENTITIES, DEFAULT_ORGANIZATION
from p2c.dynamics._finops import FINOPS_ENTITIES, REFERENCE_DATA, REFERENCE_ENTITIES
from p2c.dynamics._model import Activity, Entity, Field, FieldType, Shape, utc_now, utc_text
from p2c.dynamics._outcome import Outcome, WriteStatus
from p2c.dynamics._packages import (
    PACKAGE_NAMESPACE,
    SOURCE_FORMAT,
    DataFileWriter,
    PackageEntity,
    data_text,
    package_header,
    package_manifest,
    read_data_file,
    read_manifest,
)
from p2c.dynamics._sales import ACTIVITY_SETS, P2C_SOLUTION, SALES_ENTITIES, format_number
from p2c.dynamics._systems import CDS, FINOPS, SALES, SystemModel, system_model

__all__ = [
    "ACTIVITY_SETS",
    "CDS",
    "CDS_ENTITIES",
    "DEFAULT_ORGANIZATION",
    "FINOPS",
    "FINOPS_ENTITIES",
    "P2C_SOLUTION",
    "PACKAGE_NAMESPACE",
    "REFERENCE_DATA",
    "REFERENCE_ENTITIES",
    "SALES",
    "SALES_ENTITIES",
    "SOURCE_FORMAT",
    "Activity",
    "DataFileWriter",
    "Entity",
    "Field",
    "FieldType",
    "Outcome",
    "PackageEntity",
    "Shape",
    "SystemModel",
    "WriteStatus",
    "data_text",
    "format_number",
    "package_header",
    "package_manifest",
    "read_data_file",
    "read_manifest",
    "system_model",
    "utc_now",
    "utc_text",
]
