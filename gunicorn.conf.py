"""gunicorn settings for `make serve` (production): workers and threads from the environment.

    WEB_CONCURRENCY   worker processes (default: 2 × CPUs + 1)
    GUNICORN_THREADS  threads per worker (default 4: requests wait on the database more than on the CPU)
    HOST, PORT        where to listen (default 127.0.0.1:8000, behind the reverse proxy)

Behind a reverse proxy set LMS_PROXY_COUNT to the number of proxies whose X-Forwarded-* headers are trusted.
With LMS_METRICS=true set PROMETHEUS_MULTIPROC_DIR to an empty folder so /metrics counts every worker.
"""

import multiprocessing
import os

wsgi_app = "wsgi:app"
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 60  # nothing heavy runs in a request: bulk work is a job
graceful_timeout = 30
keepalive = 5
# Recycling workers is off by default: a recycled worker drops the keep-alive connections queued on it.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%({x-request-id}o)s"'


def child_exit(server, worker):
    """Let Prometheus forget a worker process that ended (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        GunicornInternalPrometheusMetrics.mark_process_dead_on_child_exit(worker.pid)
