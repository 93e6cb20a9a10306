"""Built-in schema and class-list files (package data)."""
