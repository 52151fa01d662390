"""The Baidu AI Cloud BLS dialect: download tasks as ``bce-sdk-go``'s ``bls`` client speaks them.

``bls_router()`` holds ``POST /v2/logstore/download``, ``GET /v2/logstore/download/{uuid}``,
``GET /v2/logstore/download/link/{uuid}``, ``POST /v2/logstore/download/list`` and
``DELETE /v2/logstore/download/{uuid}``; callers sign with ``bce-auth-v1`` using a logsluice access
key, and every error answers in the BLS envelope (``api/bls/errors.py``). See
``docs/dialects/bls.md``.
"""

from logsluice.api.bls.routes import bls_router

__all__ = ["bls_router"]
