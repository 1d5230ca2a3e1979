"""``oomguard serve``: the validating and mutating admission webhook (see README.md here)."""
