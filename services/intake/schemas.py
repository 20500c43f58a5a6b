"""Request types the sub-domains share: the enterprise's identifiers and the detail tables of the forms.

The same tables (products, instruments, special equipment, operator exams; 000 附录D, 002 附录A)
are filled in on a demand's form and kept in the enterprise's dossier.
"""

from typing import Annotated, Literal

from pydantic import Field

from shared import validation
from shared.validation import Line, RecordDate, RequestModel, rule
from shared.validation import Phone as Phone  # re-exported to the sub-domains

CreditCode = Annotated[str, rule(validation.credit_code)]
Short = Annotated[Line, Field(min_length=1, max_length=200)]


class ProductRow(RequestModel):
    name: Short = Field(description="产品名称")
    standard_name: Line | None = Field(default=None, max_length=200, description="执行标准名称")
    standard_no: Line | None = Field(default=None, max_length=100, description="执行标准编号")
    adoption: Line | None = Field(default=None, max_length=100, description="采标情况")
    disclosed: bool | None = Field(default=None, description="是否自我声明公开")


class InstrumentRow(RequestModel):
    name: Short = Field(description="计量器具名称")
    measuring_range: Line | None = Field(default=None, max_length=100, description="测量范围")
    accuracy_class: Line | None = Field(default=None, max_length=50, description="准确度等级")
    serial_no: Line | None = Field(default=None, max_length=100, description="出厂编号")
    purpose: Line | None = Field(default=None, max_length=200, description="用途")
    traceability: Literal["verification", "calibration"] | None = Field(default=None, description="溯源方式：检定/校准")
    last_traced_by: Line | None = Field(default=None, max_length=200, description="上次溯源机构")
    last_traced_on: RecordDate | None = Field(default=None, description="上次溯源日期")
    valid_until: RecordDate | None = Field(default=None, description="有效期至")


class SpecialEquipmentRow(RequestModel):
    kind: Short = Field(description="设备类别，如 锅炉、压力容器、电梯")
    quantity: int = Field(ge=1, le=100_000, description="数量")
    next_inspection_on: RecordDate | None = Field(default=None, description="下次检验日期")


class OperatorExamRow(RequestModel):
    trade: Short = Field(description="工种")
    people: int = Field(ge=1, le=10_000, description="人数")
    category: Literal["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K"] = Field(description="作业类别 A–K")
    training_mode: Line | None = Field(default=None, max_length=100, description="培训方式")
