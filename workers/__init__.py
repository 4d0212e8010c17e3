"""Worker liveness: each Celery worker touches a heartbeat row; readiness and the admin read them."""
