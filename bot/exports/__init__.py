"""Exports of a consultation's responses: data files (JSON, CSV, XLSX) in `bot.exports.data`."""
