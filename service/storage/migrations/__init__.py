"""Versioned schema migrations (`NNNN_verb_noun.py`, each with async up() and down())."""
