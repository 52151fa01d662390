"""The streaming data paths of logsluice: ingest decoding, export encoding and compression.

Everything here works on Arrow batches with bounded memory; Python touches batches, not rows, on
the fast paths.
"""
