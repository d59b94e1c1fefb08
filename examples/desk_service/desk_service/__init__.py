"""A small service desk over servflow's ``Desk``: a web API and a worker process.

``desk_service.app`` is the FastAPI application (``create_app``), ``desk_service.worker``
the process that runs what falls due. ``desk_service.settings`` reads the configuration
from the environment. See the README beside this package.
"""
