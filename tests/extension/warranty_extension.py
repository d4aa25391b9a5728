"""An extension as a user would write one: a model entry per system and one rules class.

Nothing here reaches into p2c's private modules; docs/extending.md walks through it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from p2c.dynamics import FINOPS, SALES, Activity, Entity, Field, FieldType
from p2c.sandbox import EntityRules, FinOpsSandbox, Rejection, register_rules, unregister_rules

S, D, G, L, P, N = (
    FieldType.STRING,
    FieldType.DATETIME,
    FieldType.GUID,
    FieldType.LOOKUP,
    FieldType.PICKLIST,
    FieldType.NOYES,
)

# Sales: the table as Dataverse would have it, with the columns every owned table has.
WARRANTY = Entity(
    "msdyn_warranty",
    "msdyn_warranties",
    (
        Field("msdyn_warrantyid", G, label="Warranty"),
        Field("msdyn_name", S, 100, required=True, label="Name"),
        Field("msdyn_serialnumber", S, 20, required=True, label="Serial Number"),
        Field("msdyn_customerid", L, targets=("account",), label="Customer"),
        Field("msdyn_coverage", P, options=(1, 2, 3), label="Coverage"),
        Field("msdyn_enddate", D, label="End Date"),
        Field("statecode", P, options=(0, 1), default=0, label="Status"),
        Field("owningbusinessunit", L, targets=("businessunit",), label="Owning Business Unit"),
        Field("createdon", D, read_only=True, label="Created On"),
        Field("modifiedon", D, read_only=True, label="Modified On"),
    ),
    key=("msdyn_warrantyid",),
    alternate_keys={"msdyn_SerialNumber": ("msdyn_serialnumber",)},
    label="Warranty",
    organization="owningbusinessunit.name",
    activity=Activity("statecode", 0, 1),
)

# F&O: a data entity keyed by company and warranty number.
CUSTOMER_WARRANTIES = Entity(
    "CustomerWarranty",
    "CustomerWarranties",
    (
        Field("dataAreaId", S, 4, required=True, label="Company", fold_case=True),
        Field("WarrantyNumber", S, 20, required=True, label="Warranty number"),
        Field("CustomerAccount", S, 20, required=True, label="Customer account"),
        Field("Description", S, 60, label="Description"),
        Field("Coverage", FieldType.ENUM, options=("Parts", "PartsAndLabour"), label="Coverage"),
        Field("EndDate", D, label="End date"),
        Field("IsInactive", N, default="No", label="Inactive"),
    ),
    key=("dataAreaId", "WarrantyNumber"),
    label="Customer warranties",
    organization="dataAreaId",
    activity=Activity("IsInactive", "No", "Yes"),
)


class CustomerWarrantyRules(EntityRules[FinOpsSandbox]):
    """A warranty belongs to a customer of its company."""

    def prepare_batch(self, rows: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
        customers = self.system.store.db.execute(
            'SELECT "dataAreaId", "CustomerAccount" FROM "CustomerV2"'
        )
        return {(company, account) for company, account in customers}

    def validate(
        self, row: dict[str, Any], existing: Mapping[str, Any] | None, context: Any
    ) -> Rejection | None:
        if (row["dataAreaId"], row["CustomerAccount"]) not in context:
            return Rejection(
                "CustomerAccount",
                f"Customer account {row['CustomerAccount']} does not exist in company "
                f"{row['dataAreaId']}.",
            )
        return None


@contextmanager
def warranty_extension() -> Iterator[None]:
    """The extension loaded for the duration of a test."""
    SALES.add(WARRANTY)
    FINOPS.add(CUSTOMER_WARRANTIES)
    register_rules("finops", "CustomerWarranties", CustomerWarrantyRules)
    try:
        yield
    finally:
        unregister_rules("finops", "CustomerWarranties")
        FINOPS.remove(CUSTOMER_WARRANTIES.name)
        SALES.remove(WARRANTY.name)
