"""The HTTP surface of logsluice: a FastAPI app with one router per dialect, auth and error mappers.

Only this layer knows HTTP statuses. Endpoints are plain ``def`` functions that FastAPI runs in its
thread pool (a synchronous core); only reading a request body and streaming responses are ``async``.
"""
