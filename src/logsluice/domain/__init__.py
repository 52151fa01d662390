"""Pure domain model: names, schema, errors, task states. No I/O, no third-party imports."""
