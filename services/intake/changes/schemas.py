"""Correction and withdrawal request bodies."""

from pydantic import Field

from shared.validation import RequestModel, Text

from ..demands.schemas import ContactIn, DetailsIn, ItemIn


class CorrectionIn(RequestModel):
    """更正 before dispatch: the reason, and any of the form's fields, checked as on the demand form.

    `items` and `details` replace the old lists whole; items are looked up in the catalogue in force.
    """

    reason: Text = Field(min_length=1, max_length=1000, description="更正原因（记入更正记录）")
    contact: ContactIn | None = Field(default=None, description="企业联系人")
    items: list[ItemIn] | None = Field(default=None, min_length=1, max_length=20, description="服务项目（整体替换）")
    description: str | None = Field(default=None, min_length=1, max_length=4000, description="需求描述")
    details: DetailsIn | None = Field(default=None, description="明细表（整体替换）")


class WithdrawalIn(RequestModel):
    reason: Text = Field(min_length=1, max_length=1000, description="撤回原因")
