"""The Alibaba Cloud SLS dialect: download jobs as ``alibabacloud-sls20201230`` speaks them.

``sls_router()`` holds ``POST/GET /downloadjobs`` and ``GET/DELETE /downloadjobs/{name}``; the
project comes from the Host header, callers sign with SLS v1 or v4 using a logsluice access key,
and every error answers in the SLS envelope (``api/sls/errors.py``). See ``docs/dialects/sls.md``.
"""

from logsluice.api.sls.routes import sls_router

__all__ = ["sls_router"]
