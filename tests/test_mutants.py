"""Tests that kill the survivors of the mutation run (tools/mutation/run.py)."""
