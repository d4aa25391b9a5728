"""Dynamics 365 Sales (Dataverse) entities of the sandbox, with their logical names.

Column names, entity sets and lengths follow the Dataverse table reference; the three
``msdynce_`` contact columns and the ``msdynce_p2cautonumber`` table come from the
Prospect-to-cash solution (reference notes §4) and exist only once it is installed.
"""

from __future__ import annotations

__all__ = ["ACTIVITY_SETS", "P2C_SOLUTION", "SALES_ENTITIES", "format_number"]

import random

from p2c.dynamics._model import Activity, Entity, Field, FieldType

P2C_SOLUTION = "msdynce_ProspectToCashIntegration"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# The suffix only needs to look random; the counter is what makes a number unique.
_rng = random.Random()


def format_number(prefix: str, counter: int, suffix_length: int) -> str:
    """The Prospect-to-cash solution's numbers, ``CON-01000-BVRCPS``: prefix, counter (at
    least five digits), random suffix."""
    suffix = "".join(_rng.choices(_ALPHABET, k=suffix_length))
    return f"{prefix}-{counter:05d}-{suffix}"


S, INT, M, B = FieldType.STRING, FieldType.INT, FieldType.MONEY, FieldType.BOOL
G, D, P, L = FieldType.GUID, FieldType.DATETIME, FieldType.PICKLIST, FieldType.LOOKUP


# Account's Relationship Type (customertypecode) options 1-12, as in the Dataverse table reference.
_RELATIONSHIP_TYPES = (
    "Competitor",
    "Consultant",
    "Customer",
    "Investor",
    "Partner",
    "Influencer",
    "Press",
    "Prospect",
    "Reseller",
    "Supplier",
    "Vendor",
    "Other",
)

# Every table with an owner: its business unit says which organization a record belongs to,
# and statecode 1 is inactive.
_BUSINESS_UNIT = "owningbusinessunit.name"
_STATE = Activity("statecode", 0, 1)


# Every Dataverse table's row version: a number the database raises on each write of the row
# (the sandbox's triggers, see p2c.sandbox._versions); the Web API's @odata.etag shows it.
VERSION = Field("versionnumber", INT, read_only=True, label="Version Number")


def _system(entity: str) -> tuple[Field, ...]:
    """Columns every Sales table has: state, owner business unit, audit times."""
    return (
        Field(
            "statecode",
            P,
            options=(0, 1),
            default=0,
            label="Status",
            option_labels=("Active", "Inactive"),
        ),
        Field(
            "statuscode",
            P,
            default=1,
            label="Status Reason",
            option_labels=("Active", "Inactive"),
        ),
        Field("owningbusinessunit", L, targets=("businessunit",), label="Owning Business Unit"),
        Field("createdon", D, read_only=True, label="Created On"),
        Field("modifiedon", D, read_only=True, label="Modified On"),
        VERSION,
    )


def _address(prefix: str) -> tuple[Field, ...]:
    return (
        Field(f"{prefix}_line1", S, 250, label="Street 1"),
        Field(f"{prefix}_line2", S, 250, label="Street 2"),
        Field(f"{prefix}_line3", S, 250, label="Street 3"),
        Field(f"{prefix}_city", S, 80, label="City"),
        Field(f"{prefix}_stateorprovince", S, 50, label="State/Province"),
        Field(f"{prefix}_postalcode", S, 20, label="ZIP/Postal Code"),
        Field(f"{prefix}_county", S, 50, label="County"),
        Field(f"{prefix}_country", S, 80, label="Country/Region"),
    )


def _customer_activity(name: str, entity_set: str, number: str, extra: tuple[Field, ...]) -> Entity:
    """Quote, order and invoice share a shape: a number, a customer and amounts."""
    return Entity(
        name,
        entity_set,
        (
            Field(f"{name}id", G, label=f"{name.title()} id"),
            Field("name", S, 300, required=True, label="Name"),
            Field(number, S, 100, label=f"{name.title()} ID"),
            Field("customerid", L, targets=("account", "contact"), required=True, label="Customer"),
            Field("transactioncurrencyid", L, targets=("transactioncurrency",), label="Currency"),
            Field("totalamount", M, label="Total Amount"),
            Field("description", S, 2000, label="Description"),
            *extra,
            *_system(name),
        ),
        key=(f"{name}id",),
        organization=_BUSINESS_UNIT,
        activity=_STATE,
        label=name.title(),
    )


SALES_ENTITIES: tuple[Entity, ...] = (
    Entity(
        "businessunit",
        "businessunits",
        (
            Field("businessunitid", G),
            Field("name", S, 160, required=True, label="Name"),
            Field("parentbusinessunitid", L, targets=("businessunit",), label="Parent Business"),
            Field("createdon", D, read_only=True),
            Field("modifiedon", D, read_only=True),
            VERSION,
        ),
        key=("businessunitid",),
        label="Business Unit",
    ),
    Entity(
        "transactioncurrency",
        "transactioncurrencies",
        (
            Field("transactioncurrencyid", G),
            Field("isocurrencycode", S, 5, required=True, label="Currency Code"),
            Field("currencyname", S, 100, required=True, label="Currency Name"),
            Field("currencysymbol", S, 10, label="Currency Symbol"),
            Field("createdon", D, read_only=True),
            Field("modifiedon", D, read_only=True),
            VERSION,
        ),
        key=("transactioncurrencyid",),
        alternate_keys={"isocurrencycode": ("isocurrencycode",)},
        label="Currency",
    ),
    Entity(
        "msdynce_p2cautonumber",
        "msdynce_p2cautonumbers",
        (
            Field("msdynce_p2cautonumberid", G),
            Field("msdynce_name", S, 100, label="Name"),
            Field("msdynce_entityname", S, 100, required=True, label="Entity Name"),
            Field("msdynce_prefix", S, 10, required=True, label="Prefix"),
            Field("msdynce_numbersequence", INT, required=True, label="Number Sequence"),
            Field("msdynce_suffixlength", INT, required=True, label="Suffix Length"),
            Field("createdon", D, read_only=True),
            Field("modifiedon", D, read_only=True),
            VERSION,
        ),
        key=("msdynce_p2cautonumberid",),
        alternate_keys={
            "msdynce_EntityName": ("msdynce_entityname",),
            "msdynce_Prefix": ("msdynce_prefix",),
        },
        label="P2C Auto Number",
    ),
    Entity(
        "account",
        "accounts",
        (
            Field("accountid", G, label="Account"),
            Field("name", S, 160, required=True, label="Account Name"),
            Field("accountnumber", S, 20, label="Account Number"),
            Field("emailaddress1", S, 100, label="Email"),
            Field("telephone1", S, 50, label="Main Phone"),
            Field("fax", S, 50, label="Fax"),
            Field("websiteurl", S, 200, label="Website"),
            Field("description", S, 2000, label="Description"),
            *_address("address1"),
            Field("primarycontactid", L, targets=("contact",), label="Primary Contact"),
            Field("parentaccountid", L, targets=("account",), label="Parent Account"),
            Field("transactioncurrencyid", L, targets=("transactioncurrency",), label="Currency"),
            Field("creditlimit", M, label="Credit Limit"),
            Field(
                "customertypecode",
                P,
                options=tuple(range(1, 13)),
                label="Relationship Type",
                option_labels=_RELATIONSHIP_TYPES,
            ),
            *_system("account"),
        ),
        key=("accountid",),
        organization=_BUSINESS_UNIT,
        activity=_STATE,
        label="Account",
    ),
    Entity(
        "contact",
        "contacts",
        (
            Field("contactid", G, label="Contact"),
            Field("salutation", S, 100, label="Salutation"),
            Field("firstname", S, 50, label="First Name"),
            Field("middlename", S, 50, label="Middle Name"),
            Field("lastname", S, 50, required=True, label="Last Name"),
            Field("fullname", S, 160, read_only=True, label="Full Name"),
            Field("jobtitle", S, 100, label="Job Title"),
            Field("department", S, 100, label="Department"),
            Field("emailaddress1", S, 100, label="Email"),
            Field("telephone1", S, 50, label="Business Phone"),
            Field("mobilephone", S, 50, label="Mobile Phone"),
            Field("fax", S, 50, label="Fax"),
            Field("websiteurl", S, 200, label="Website"),
            Field("description", S, 2000, label="Description"),
            Field(
                "gendercode", P, options=(1, 2), label="Gender", option_labels=("Male", "Female")
            ),
            Field(
                "familystatuscode",
                P,
                options=(1, 2, 3, 4),
                label="Marital Status",
                option_labels=("Single", "Married", "Divorced", "Widowed"),
            ),
            Field(
                "accountrolecode",
                P,
                options=(1, 2, 3),
                label="Role",
                option_labels=("Decision Maker", "Employee", "Influencer"),
            ),
            Field(
                "donotemail",
                B,
                default=0,
                label="Do not allow Emails",
                option_labels=("Allow", "Do Not Allow"),
            ),
            Field("spousesname", S, 100, label="Spouse/Partner Name"),
            Field("governmentid", S, 50, label="Government"),
            *_address("address1"),
            Field("parentcustomerid", L, targets=("account", "contact"), label="Company Name"),
            Field("transactioncurrencyid", L, targets=("transactioncurrency",), label="Currency"),
            Field("msdynce_contactnumber", S, 20, label="Contact Number", solution=P2C_SOLUTION),
            Field(
                "msdynce_isactivecustomer",
                B,
                default=0,
                label="Is Active Customer",
                solution=P2C_SOLUTION,
            ),
            Field(
                "msdynce_iscompanyanaccount",
                B,
                default=0,
                label="Is Company An Account",
                solution=P2C_SOLUTION,
            ),
            *_system("contact"),
        ),
        key=("contactid",),
        organization=_BUSINESS_UNIT,
        activity=_STATE,
        alternate_keys={"msdynce_ContactNumber": ("msdynce_contactnumber",)},
        label="Contact",
    ),
    _customer_activity("quote", "quotes", "quotenumber", ()),
    _customer_activity(
        "salesorder",
        "salesorders",
        "ordernumber",
        (Field("quoteid", L, targets=("quote",), label="Quote"),),
    ),
    _customer_activity(
        "invoice",
        "invoices",
        "invoicenumber",
        (Field("salesorderid", L, targets=("salesorder",), label="Order"),),
    ),
)

# The entity sets whose customerid makes a contact an active customer (reference notes §4.4).
ACTIVITY_SETS = ("quotes", "salesorders", "invoices")
