"""Real services the tests start for themselves (a Pushgateway) and the programs they need."""
