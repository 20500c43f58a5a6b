from shared.runtime import serve

from .app import create_app
from .settings import Settings

serve(create_app, Settings())
