"""Verify your own gradient rule: :func:`check` for sg, :func:`check_torch` for PyTorch."""

from sg_verify.custom.check import check
from sg_verify.custom.result import CheckResult, CheckRow, MutantRow
from sg_verify.custom.torch_rule import check_torch

__all__ = ["CheckResult", "CheckRow", "MutantRow", "check", "check_torch"]
