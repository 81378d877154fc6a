"""Organisations: licence holders, training partners and awarding bodies."""
