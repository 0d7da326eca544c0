"""bento-ts's model converters: run once, when a model enters bento-ts's model store (see common.py)."""
