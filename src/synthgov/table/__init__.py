"""Tables in and out, and the schema that says what each column is."""

from synthgov.table.infer import infer_schema
from synthgov.table.io import read_table, write_table
from synthgov.table.schema import ColumnSchema, Schema

__all__ = ["ColumnSchema", "Schema", "infer_schema", "read_table", "write_table"]
