"""Reporting: aggregate, themes, phrasing, charts, summaries, drafting and exports."""
