"""The event log: who changed what, recorded in the change's own transaction."""
