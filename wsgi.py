import gc
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

# The application's objects live as long as this process (a gunicorn worker, a command): set them
# aside, so that the collector's later passes walk only what requests and commands create. create_app
# held the collector while making them; without this, its first pass afterwards would walk them all.
# (The price: the setup's own cyclic leftovers, about 10,000 small objects or 1 MB, are set aside too
# instead of freed; collecting them first would cost the 60-80 ms this saves.)
gc.freeze()
