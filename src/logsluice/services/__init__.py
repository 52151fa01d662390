"""Use cases of logsluice: the catalog, ingestion, queries, retention and demo data.

Services see only the Protocols in ``logsluice.ports`` and the pure ``domain``, ``query`` and
``pipeline`` code; ``bootstrap`` builds them with concrete adapters.
"""
