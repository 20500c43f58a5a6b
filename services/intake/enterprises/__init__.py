"""The enterprise dossier (一企一册), one per station and credit code."""
