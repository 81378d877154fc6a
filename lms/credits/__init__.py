"""Credits: awarding bodies' credit rules, awards, exports and certificates."""
