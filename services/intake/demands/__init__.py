"""Demands as submitted (一表登记): numbering, the acceptance notice, the ledger, the enterprise's status link."""
