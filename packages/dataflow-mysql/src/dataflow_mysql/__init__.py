"""dataflow-mysql: the MySQL 8 and MariaDB dialect for DataFlow."""

from .dialect import MySQLDialect
from .server import ServerInfo

__all__ = ["MySQLDialect", "ServerInfo"]
