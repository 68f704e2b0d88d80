import sys

from shegong_academy import create_app
from shegong_academy.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One line naming the variable, no traceback. Exit status 4 is gunicorn's "app failed to
    # load": its master stops instead of starting worker after worker.
    print(f"Shegong Academy will not start: {exc}", file=sys.stderr)
    raise SystemExit(4) from None
