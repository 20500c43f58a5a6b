"""Visits to enterprises (主动进企业走访) and the demands collected on them."""
