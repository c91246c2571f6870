"""The SLA arithmetic: pure Python, no Django imports (property-tested)."""
