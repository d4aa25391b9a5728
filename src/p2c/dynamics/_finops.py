"""Finance and Operations data entities of the sandbox, and their reference data.

Entity and field names are the OData names of the real data entities (reference notes
§5.1-§5.3); lengths follow the F&O extended data types. Reference data is a small, realistic
demo company set: legal entity ``usmf`` and a few others, customer group ``10`` and its
siblings, ISO countries, languages, sites and warehouses.
"""

from __future__ import annotations

__all__ = ["FINOPS_ENTITIES", "REFERENCE_DATA", "REFERENCE_ENTITIES"]

from typing import Any

from p2c.dynamics._model import Activity, Entity, Field, FieldType

S, INT, M, E, N = FieldType.STRING, FieldType.INT, FieldType.MONEY, FieldType.ENUM, FieldType.NOYES

GENDER = ("Unknown", "Male", "Female", "NonSpecific")
MARITAL = (
    "None",
    "Married",
    "Single",
    "Divorced",
    "Widowed",
    "Cohabiting",
    "RegisteredPartnership",
)
PARTY_TYPE = ("Organization", "Person")


def _address(prefix: str, id_suffix: str = "") -> tuple[Field, ...]:
    """An address group; CDSContactPersons names state and county ``…StateId``/``…CountyId``."""
    return (
        Field(f"{prefix}Description", S, 60, label="Name or description"),
        Field(f"{prefix}Street", S, 250, label="Street"),
        Field(f"{prefix}StreetNumber", S, 20, label="Street number"),
        Field(f"{prefix}City", S, 60, label="City"),
        Field(f"{prefix}ZipCode", S, 10, label="ZIP/postal code"),
        Field(f"{prefix}State{id_suffix}", S, 10, label="State"),
        Field(f"{prefix}County{id_suffix}", S, 10, label="County"),
        Field(f"{prefix}CountryRegionId", S, 10, label="Country/region"),
        Field(f"{prefix}CountryRegionISOCode", S, 10, label="ISO code"),
    )


CUSTOMERS_V2 = Entity(
    "CustomerV2",
    "CustomersV2",
    (
        Field("dataAreaId", S, 4, required=True, label="Company", fold_case=True),
        Field("CustomerAccount", S, 20, required=True, label="Customer account"),
        Field("PartyType", E, options=PARTY_TYPE, label="Party type"),
        Field("PartyNumber", S, 40, label="Party number"),
        Field("OrganizationName", S, 100, label="Name"),
        Field("NameAlias", S, 20, label="Search name"),
        Field("PersonFirstName", S, 25, label="First name"),
        Field("PersonMiddleName", S, 25, label="Middle name"),
        Field("PersonLastName", S, 25, label="Last name"),
        Field("PersonProfessionalTitle", S, 50, label="Professional title"),
        Field("PersonGender", E, options=GENDER, label="Gender"),
        Field("PersonMaritalStatus", E, options=MARITAL, label="Marital status"),
        *_address("Address"),
        *(
            f
            for f in _address("DeliveryAddress")
            if f.name.endswith(("Street", "City", "ZipCode", "State", "CountryRegionISOCode"))
        ),
        Field("PrimaryContactEmail", S, 255, label="Email address"),
        Field("PrimaryContactPhone", S, 255, label="Telephone"),
        Field("PrimaryContactFax", S, 255, label="Fax"),
        Field("PrimaryContactURL", S, 255, label="Internet address"),
        Field("CustomerGroupId", S, 10, label="Customer group"),
        Field("SalesCurrencyCode", S, 3, label="Currency"),
        Field("LanguageId", S, 7, label="Language"),
        Field("SiteId", S, 10, label="Site"),
        Field("WarehouseId", S, 10, label="Warehouse"),
        Field("CreditLimit", M, label="Credit limit"),
        Field("InvoiceAccount", S, 20, label="Invoice account"),
        Field("PaymentTerms", S, 10, label="Terms of payment"),
        Field("DeliveryTerms", S, 10, label="Delivery terms"),
        Field("DeliveryMode", S, 10, label="Mode of delivery"),
        Field("SalesMemo", S, 1000, label="Sales memo"),
        Field("IsExternallyMaintained", N, default="No", label="Is externally maintained"),
        Field("IsOneTimeCustomer", N, default="No", label="One-time customer"),
        Field(
            "OnHoldStatus",
            E,
            options=("No", "Invoice", "All", "Payment", "Requisition", "Never"),
            default="No",
            label="Invoicing and delivery on hold",
        ),
    ),
    key=("dataAreaId", "CustomerAccount"),
    label="Customers V2",
    organization="dataAreaId",
    names=(("OrganizationName",), ("PersonFirstName", "PersonLastName")),
)

CDS_CONTACT_PERSONS = Entity(
    "CDSContactPerson",
    "CDSContactPersons",
    (
        Field("dataAreaId", S, 4, required=True, label="Company", fold_case=True),
        Field("ContactPersonPartyNumber", S, 40, required=True, label="Party number"),
        Field("AssociatedPartyNumber", S, 40, required=True, label="Associated party number"),
        Field("FirstName", S, 25, label="First name"),
        Field("MiddleName", S, 25, label="Middle name"),
        Field("LastName", S, 25, label="Last name"),
        Field("EmploymentProfession", S, 50, label="Profession"),
        Field("EmploymentDepartment", S, 60, label="Department"),
        Field("Notes", S, 1000, label="Notes"),
        Field("DecisionMakingRoleCode", S, 10, label="Decision"),
        Field("Gender", E, options=GENDER, label="Gender"),
        Field("MaritalStatus", E, options=MARITAL, label="Marital status"),
        Field("SpouseName", S, 60, label="Spouse"),
        Field("GovernmentIdentificationNumber", S, 30, label="Government identification number"),
        Field("IsReceivingDirectMail", N, default="Yes", label="Receive direct mail"),
        Field(
            "IsContactPersonExternallyMaintained",
            N,
            default="No",
            label="Contact person is externally maintained",
        ),
        Field("IsInactive", N, default="No", label="Inactive"),
        Field("BirthDay", INT, default=0, label="Birth day"),
        Field("BirthYear", INT, default=0, label="Birth year"),
        Field("PrimaryEmailAddress", S, 255, label="Email address"),
        Field("PrimaryPhoneNumber", S, 255, label="Telephone"),
        Field("PrimaryFaxNumber", S, 255, label="Fax"),
        Field("PrimaryURL", S, 255, label="Internet address"),
        *_address("PrimaryAddress", "Id"),
    ),
    key=("dataAreaId", "ContactPersonPartyNumber", "AssociatedPartyNumber"),
    label="CDS Contacts",
    organization="dataAreaId",
    names=(("FirstName", "LastName"),),
    activity=Activity("IsInactive", "No", "Yes"),
)


def _reference(name: str, entity_set: str, key: tuple[str, ...], *fields: Field) -> Entity:
    return Entity(name, entity_set, fields, key=key, label=entity_set)


REFERENCE_ENTITIES = (
    _reference(
        "LegalEntity",
        "LegalEntities",
        ("LegalEntityId",),
        Field("LegalEntityId", S, 4),
        Field("Name", S, 100),
        Field("AccountingCurrency", S, 3),
    ),
    _reference(
        "CustomerGroup",
        "CustomerGroups",
        ("dataAreaId", "CustomerGroupId"),
        Field("dataAreaId", S, 4, fold_case=True),
        Field("CustomerGroupId", S, 10),
        Field("Description", S, 60),
    ),
    _reference(
        "AddressCountryRegion",
        "AddressCountryRegions",
        ("CountryRegion",),
        Field("CountryRegion", S, 10),
        Field("ISOCode", S, 2),
        Field("Description", S, 60),
    ),
    _reference(
        "Language",
        "Languages",
        ("LanguageId",),
        Field("LanguageId", S, 7),
        Field("Description", S, 60),
    ),
    _reference(
        "Currency",
        "Currencies",
        ("CurrencyCode",),
        Field("CurrencyCode", S, 3),
        Field("Name", S, 60),
    ),
    _reference(
        "DecisionMakingRole",
        "DecisionMakingRoles",
        ("DecisionMakingRoleCode",),
        Field("DecisionMakingRoleCode", S, 10),
        Field("Description", S, 60),
    ),
    _reference(
        "OperationalSite",
        "OperationalSites",
        ("dataAreaId", "SiteId"),
        Field("dataAreaId", S, 4, fold_case=True),
        Field("SiteId", S, 10),
        Field("SiteName", S, 60),
    ),
    _reference(
        "Warehouse",
        "Warehouses",
        ("dataAreaId", "WarehouseId"),
        Field("dataAreaId", S, 4, fold_case=True),
        Field("WarehouseId", S, 10),
        Field("WarehouseName", S, 60),
        Field("OperationalSiteId", S, 10),
    ),
    _reference(
        "Party",
        "Parties",
        ("PartyNumber",),
        Field("PartyNumber", S, 40),
        Field("PartyType", S, 20),
        Field("Name", S, 100),
    ),
)

FINOPS_ENTITIES = (CUSTOMERS_V2, CDS_CONTACT_PERSONS, *REFERENCE_ENTITIES)

_COMPANIES = {
    "usmf": ("Contoso Entertainment System USA", "USD"),
    "usrt": ("Contoso Retail USA", "USD"),
    "demf": ("Contoso Entertainment System Germany", "EUR"),
    "gbsi": ("Contoso Entertainment System UK", "GBP"),
    "frrt": ("Contoso Retail France", "EUR"),
}
_GROUPS = {
    "10": "Wholesale customers",
    "20": "Major customers",
    "30": "Retail customers",
    "40": "Internet customers",
    "80": "Other customers",
    "90": "Intercompany customers",
}
_COUNTRIES = {
    "USA": ("US", "United States"),
    "CAN": ("CA", "Canada"),
    "MEX": ("MX", "Mexico"),
    "GBR": ("GB", "United Kingdom"),
    "DEU": ("DE", "Germany"),
    "FRA": ("FR", "France"),
    "SWE": ("SE", "Sweden"),
    "NOR": ("NO", "Norway"),
    "DNK": ("DK", "Denmark"),
    "FIN": ("FI", "Finland"),
    "NLD": ("NL", "Netherlands"),
    "BEL": ("BE", "Belgium"),
    "ESP": ("ES", "Spain"),
    "ITA": ("IT", "Italy"),
    "POL": ("PL", "Poland"),
    "CHE": ("CH", "Switzerland"),
    "AUT": ("AT", "Austria"),
    "IRL": ("IE", "Ireland"),
    "AUS": ("AU", "Australia"),
    "JPN": ("JP", "Japan"),
    "CHN": ("CN", "China"),
    "IND": ("IN", "India"),
    "BRA": ("BR", "Brazil"),
}
_LANGUAGES = {
    "en-us": "English (United States)",
    "en-gb": "English (United Kingdom)",
    "de": "German",
    "fr": "French",
    "sv": "Swedish",
    "nb-no": "Norwegian (Bokmål)",
    "da": "Danish",
    "fi": "Finnish",
    "nl": "Dutch",
    "es": "Spanish",
    "it": "Italian",
    "ja": "Japanese",
    "zh-hans": "Chinese (Simplified)",
}
_CURRENCIES = {
    "USD": "US Dollar",
    "EUR": "Euro",
    "GBP": "Pound Sterling",
    "SEK": "Swedish Krona",
    "NOK": "Norwegian Krone",
    "DKK": "Danish Krone",
    "CAD": "Canadian Dollar",
}
_ROLES = {
    "Decision": "Decision maker",
    "Influencer": "Influencer",
    "Employee": "Employee",
    "Approver": "Approver",
    "Other": "Other",
}
_SITES = {"1": "Site 1", "2": "Site 2", "3": "Site 3", "5": "Site 5", "6": "Site 6"}
_WAREHOUSES = {
    "11": "1",
    "12": "1",
    "13": "1",
    "21": "2",
    "22": "2",
    "24": "2",
    "31": "3",
    "51": "5",
    "61": "6",
}

REFERENCE_DATA: dict[str, list[dict[str, Any]]] = {
    "LegalEntities": [
        {"LegalEntityId": k, "Name": n, "AccountingCurrency": c} for k, (n, c) in _COMPANIES.items()
    ],
    "CustomerGroups": [
        {"dataAreaId": c, "CustomerGroupId": g, "Description": d}
        for c in _COMPANIES
        for g, d in _GROUPS.items()
    ],
    "AddressCountryRegions": [
        {"CountryRegion": k, "ISOCode": i, "Description": d} for k, (i, d) in _COUNTRIES.items()
    ],
    "Languages": [{"LanguageId": k, "Description": d} for k, d in _LANGUAGES.items()],
    "Currencies": [{"CurrencyCode": k, "Name": d} for k, d in _CURRENCIES.items()],
    "DecisionMakingRoles": [
        {"DecisionMakingRoleCode": k, "Description": d} for k, d in _ROLES.items()
    ],
    "OperationalSites": [
        {"dataAreaId": c, "SiteId": s, "SiteName": n} for c in _COMPANIES for s, n in _SITES.items()
    ],
    "Warehouses": [
        {
            "dataAreaId": c,
            "WarehouseId": w,
            "WarehouseName": f"Warehouse {w}",
            "OperationalSiteId": s,
        }
        for c in _COMPANIES
        for w, s in _WAREHOUSES.items()
    ],
}
