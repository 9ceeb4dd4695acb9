"""What every chunked Brian2 network family shares: groups from composed model roles, per-sample
records and membrane traces. The kinds' engines build on it; it never imports a kind."""
