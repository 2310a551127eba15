"""Operator checks on a deployment (preflight)."""
