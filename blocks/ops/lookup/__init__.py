"""The check of a lookup table's indices."""
