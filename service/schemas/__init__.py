"""Marshmallow request/response schemas, one module per topic (named as its blueprint)."""
