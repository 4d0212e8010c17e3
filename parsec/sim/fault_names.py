"""The simulator's fault names, without Django: settings check PARSEC_SIM_FAULT_RATES against them."""

ERROR_500 = "error-500"
ERROR_503 = "error-503"
RATE_LIMIT = "rate-limit"
LATENCY = "latency"
TIMEOUT_BEFORE_APPLY = "timeout-before-apply"
APPLY_THEN_DROP = "apply-then-drop"
FAULTS = (ERROR_500, ERROR_503, RATE_LIMIT, LATENCY, TIMEOUT_BEFORE_APPLY, APPLY_THEN_DROP)
