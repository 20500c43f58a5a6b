"""Evaluation: satisfaction surveys and ratings (服务评价)."""
