"""Table 1 — customer tiering & tracking (客户分级追踪表)."""
