"""Throwaway real services the tests start by themselves (PostgreSQL, a Pushgateway)."""
