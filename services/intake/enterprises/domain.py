"""Enterprise rules: the dossier (一企一册) as one station knows it. Pure."""

from dataclasses import dataclass

from shared.errors import Invalid


@dataclass(frozen=True)
class EnterpriseDossier:
    """一企一册: the enterprise as one station knows it, with the detail tables of the forms."""

    station_id: str
    credit_code: str
    name: str
    credit_code_flag: str | None = None
    legal_representative: str | None = None
    industry: str | None = None
    size: str | None = None
    employees: int | None = None
    output_value_wan: float | None = None
    main_products: str | None = None
    address: str | None = None
    in_park: bool | None = None
    park_name: str | None = None
    town: str | None = None
    chain: str | None = None
    chain_leader: bool = False
    own_labs: int | None = None
    labs_cover_own_testing: bool | None = None
    contacts: tuple[dict, ...] = ()
    products: tuple[dict, ...] = ()
    instruments: tuple[dict, ...] = ()
    special_equipment: tuple[dict, ...] = ()
    operator_exams: tuple[dict, ...] = ()


def check_park(dossier: EnterpriseDossier) -> None:
    if dossier.in_park and not dossier.park_name:
        raise Invalid(
            "位于产业园区的企业须填写园区名称", "park_name is required when in_park is true", field="park_name"
        )
