"""`timberyard serve` with the dashboard's routes added when the app does not mount them yet.

Run as a script: `python serve_dashboard.py serve --data DIR --port P`. Once
create_app mounts `timberyard.web.routes`, this changes nothing.
"""

from __future__ import annotations

import sys
from typing import Any

from timberyard import app as app_module
from timberyard.web.routes import routes as web_routes

_create_app = app_module.create_app


def create_app(*args: Any, **kwargs: Any) -> Any:
    """The app of create_app, plus any dashboard route whose path it lacks."""
    app = _create_app(*args, **kwargs)
    paths = {getattr(route, "path", None) for route in app.router.routes}
    app.router.routes.extend(route for route in web_routes if route.path not in paths)
    return app


app_module.create_app = create_app

if __name__ == "__main__":
    from timberyard.cli.main import main

    sys.exit(main())
