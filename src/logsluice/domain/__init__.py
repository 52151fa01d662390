"""Pure domain model: names, records' schema, errors, task states. No I/O and no third-party imports."""
