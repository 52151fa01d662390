"""Verification of the three vendors' request signatures: Baidu bce-auth-v1, Alibaba SLS, Huawei.

Pure functions over a framework-neutral ``SignedRequest``: each vendor module's ``verify`` returns
the ``VerifiedCaller`` or raises a ``SignatureError`` subclass carrying that vendor's HTTP status,
error code and message, for the dialect routers and error mappers to use.
"""

from logsluice.api.signatures.request import (
    Headers,
    QueryParameter,
    SecretLookup,
    SignedRequest,
    VerifiedCaller,
    parse_raw_query,
)

__all__ = [
    "Headers",
    "QueryParameter",
    "SecretLookup",
    "SignedRequest",
    "VerifiedCaller",
    "parse_raw_query",
]
