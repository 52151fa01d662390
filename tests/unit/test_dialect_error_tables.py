"""Every domain error the native API answers with its own status has a status and code in each
vendor dialect too: none of them falls through to the dialect's generic 500."""

from __future__ import annotations

import pytest

from logsluice.api.bls import errors as bls_errors
from logsluice.api.huawei import errors as huawei_errors
from logsluice.api.native.errors import STATUS_BY_ERROR
from logsluice.api.sls import errors as sls_errors
from logsluice.domain.errors import LogsluiceError

DIALECTS = {"bls": bls_errors, "sls": sls_errors, "huawei": huawei_errors}


def _instance(error_class: type[LogsluiceError]) -> LogsluiceError:
    return error_class("a message for the test")


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("error_class", sorted(STATUS_BY_ERROR, key=lambda c: c.__name__))
def test_each_natively_mapped_error_has_a_vendor_answer(
    dialect: str, error_class: type[LogsluiceError]
) -> None:
    module = DIALECTS[dialect]
    status, code, message = module.status_code_message(_instance(error_class))
    assert (status, code) != module.INTERNAL_ERROR[:2], error_class.__name__
    assert 400 <= status < 600
    assert message
