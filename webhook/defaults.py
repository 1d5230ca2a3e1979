"""The defaults of ``oomguard serve``, defined once: the CLI's flags, the server, the Flask
app and the gunicorn worker read them here. Nothing heavy is imported: the CLI reads this
module on every start."""

PORT = 8443
HOST = "0.0.0.0"
PROBE_PORT = 0  # off
WORKERS = 2
THREADS_PER_WORKER = 8  # idle and stalling clients hold threads (see worker.py); serving needs 1-2
# object + oldObject of the largest object etcd takes
MAX_BODY_BYTES = 6 * 1024 * 1024
# a review this small never waits at the app's byte gate and may be answered on a worker's
# poller thread (a Pod or Deployment is a few KiB)
SMALL_REVIEW_BYTES = 64 * 1024
# --on-rule-error: rules.admission's ALLOW and DENY (tests/test_webhook_policy.py holds them equal)
ON_RULE_ERROR_CHOICES = ("allow", "deny")
ON_RULE_ERROR = "allow"  # like failurePolicy: Ignore
