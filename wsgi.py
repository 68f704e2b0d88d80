import gc
import sys

from shegong_academy import create_app
from shegong_academy.config import ConfigError

# The application's objects live as long as this process (a gunicorn worker, a command). The collector is
# held while they are made (create_app would hold it too) and given back only after they are set aside,
# so that its passes walk only what requests and commands create: given back first, its first pass would
# walk every object made meanwhile (40-75 ms), and its full passes all of them again later. (The price: the
# setup's own cyclic leftovers, about 10,000 small objects or 1 MB, are set aside too instead of freed;
# collecting them first would cost the 60-80 ms this saves.)
held = gc.isenabled()
gc.disable()
try:
    app = create_app()
except ConfigError as exc:
    # One line naming the variable, no traceback. Exit status 4 is gunicorn's "app failed to
    # load": its master stops instead of starting worker after worker.
    print(f"Shegong Academy will not start: {exc}", file=sys.stderr)
    raise SystemExit(4) from None
finally:
    gc.freeze()
    if held:
        gc.enable()
