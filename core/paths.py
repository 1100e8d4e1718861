"""Where the shipped, non-Python files live (schemas, policies, sample data)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCHEMAS_DIR = PROJECT_ROOT / "schemas"
POLICIES_DIR = PROJECT_ROOT / "policies"
SAMPLE_DATA_DIR = Path(__file__).resolve().parent / "inventory" / "sample"
