"""The knowledge base: loading and checking the YAML files, the live FAQ that reloads, and edits to it."""
