"""Capture validation: one rule per kind of lead field, pure functions with no database.

`normalise_lead` turns raw input into `LeadFields` or raises `InvalidInput` naming the
field; the GraphQL mutation and bulk import both go through it, so a row is judged the
same whichever way it arrives.

- email: syntax and normalisation by `email-validator` (no DNS), stored lower-cased; its
  domain feeds duplicate detection;
- country: ISO 3166-1 via pycountry (alpha-2, alpha-3 or English name), stored alpha-2;
- region: an ISO 3166-2 subdivision of the country (code or name) becomes its code
  without the country prefix (`US-CA`, `ca`, `California` → `CA`); any other text is kept,
  trimmed (sales regions such as `EMEA`); compared case-insensitively;
- phone: `phonenumbers`, parsed in the lead's country unless it starts with `+`, stored
  as E.164;
- postal code: trimmed and upper-cased; prefix matching ignores spaces;
- product interest: trimmed, lower-cased, de-duplicated, like partner capabilities.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from prm.crm.accounts import normalise_account_name
from prm.errors import InvalidInput
from prm.money import Money

MAX_NAME = 200
MAX_SHORT = 100
MAX_TAGS = 50
POSTAL_CODE = re.compile(r"^[A-Z0-9][A-Z0-9 -]{0,19}$")


@dataclass(frozen=True)
class LeadFields:
    """A lead's captured fields, validated and normalised."""

    company_name: str
    normalized_company: str
    contact_name: str | None = None
    email: str | None = None
    email_domain: str | None = None
    phone: str | None = None
    country: str | None = None
    region: str | None = None
    postal_code: str | None = None
    industry: str | None = None
    product_interest: tuple[str, ...] = field(default_factory=tuple)
    estimated_value: Money | None = None
    source: str | None = None


def required_text(value: str | None, *, field: str, max_length: int = MAX_NAME) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput("must not be blank", field=field)
    if len(text) > max_length:
        raise InvalidInput(f"must be at most {max_length} characters", field=field)
    return text


def optional_text(value: str | None, *, field: str, max_length: int = MAX_SHORT) -> str | None:
    if value is None or not value.strip():
        return None
    return required_text(value, field=field, max_length=max_length)


@lru_cache(maxsize=1024)
def _country(value: str) -> str | None:
    try:
        return str(pycountry.countries.lookup(value).alpha_2)
    except LookupError:
        return None


def country_code(value: str | None, *, field: str = "country") -> str | None:
    """ISO 3166-1 alpha-2 from an alpha-2, alpha-3 or name; blank means none."""
    if value is None or not value.strip():
        return None
    code = _country(value.strip())
    if code is None:
        raise InvalidInput("is not an ISO 3166 country", field=field)
    return code


@lru_cache(maxsize=4096)
def _subdivision(country: str, value: str) -> str | None:
    wanted = value.upper()
    code = wanted if wanted.startswith(f"{country}-") else f"{country}-{wanted}"
    found = pycountry.subdivisions.get(code=code)
    if found is None:
        for subdivision in pycountry.subdivisions.get(country_code=country) or ():
            if subdivision.name.casefold() == value.casefold():
                found = subdivision
                break
    return None if found is None else str(found.code).split("-", 1)[1]


def region_code(value: str | None, country: str | None, *, field: str = "region") -> str | None:
    """The subdivision code within `country` when `value` names one, else `value` trimmed."""
    text = optional_text(value, field=field)
    if text is None:
        return None
    if country is not None:
        return _subdivision(country, text) or text
    return text


def email_address(value: str | None, *, field: str = "email") -> tuple[str, str] | None:
    """`(address, domain)`, both lower-cased; blank means none."""
    if value is None or not value.strip():
        return None
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidInput(f"is not a valid email address: {error}", field=field) from error
    address = checked.normalized.lower()
    if len(address) > 320:
        raise InvalidInput("is too long", field=field)
    return address, checked.ascii_domain.lower()


def phone_number(value: str | None, country: str | None, *, field: str = "phone") -> str | None:
    """E.164; a number without `+` is read in `country`. Blank means none."""
    if value is None or not value.strip():
        return None
    try:
        parsed = phonenumbers.parse(value.strip(), country)
    except phonenumbers.NumberParseException as error:
        hint = "" if country else " (give the country, or start with + and the country code)"
        raise InvalidInput(f"is not a phone number{hint}", field=field) from error
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput("is not a valid phone number", field=field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def postal_code(value: str | None, *, field: str = "postalCode") -> str | None:
    if value is None or not value.strip():
        return None
    code = " ".join(value.strip().upper().split())
    if not POSTAL_CODE.match(code):
        raise InvalidInput("is not a postal code", field=field)
    return code


def tags(values: Iterable[str] | None, *, field: str, upper: bool = False) -> tuple[str, ...]:
    """Trimmed, case-folded one way, de-duplicated and sorted; blanks dropped."""
    cleaned: set[str] = set()
    for value in values or ():
        text = value.strip()
        if not text:
            continue
        if len(text) > MAX_SHORT:
            raise InvalidInput(f"entries must be at most {MAX_SHORT} characters", field=field)
        cleaned.add(text.upper() if upper else text.lower())
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} entries", field=field)
    return tuple(sorted(cleaned))


def country_codes(values: Sequence[str] | None, *, field: str) -> tuple[str, ...]:
    codes = {country_code(value, field=field) for value in values or () if value.strip()}
    return tuple(sorted(code for code in codes if code))


def normalise_lead(
    *,
    company_name: str,
    contact_name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    country: str | None = None,
    region: str | None = None,
    postal_code_value: str | None = None,
    industry: str | None = None,
    product_interest: Iterable[str] | None = None,
    estimated_value: tuple[Decimal | str, str] | None = None,
    source: str | None = None,
) -> LeadFields:
    """Validated, normalised lead fields; `InvalidInput` names the first bad field."""
    company = required_text(company_name, field="companyName")
    country_value = country_code(country)
    address = email_address(email)
    value = None
    if estimated_value is not None:
        value = Money.parse(*estimated_value, field="estimatedValue")
    return LeadFields(
        company_name=company,
        normalized_company=normalise_account_name(company),
        contact_name=optional_text(contact_name, field="contactName", max_length=MAX_NAME),
        email=address[0] if address else None,
        email_domain=address[1] if address else None,
        phone=phone_number(phone, country_value),
        country=country_value,
        region=region_code(region, country_value),
        postal_code=postal_code(postal_code_value),
        industry=optional_text(industry, field="industry"),
        product_interest=tags(product_interest, field="productInterest"),
        estimated_value=value,
        source=optional_text(source, field="source"),
    )
