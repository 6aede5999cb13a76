"""One tray app per user (per ROUNDHOUSE_HOME): a lock file, and a local socket through which a
second launch asks the first to bring its window forward."""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from roundhouse.desktop import paths
from roundhouse.desktop.slots import bind

SHOW = b"show\n"


def instance_name() -> str:
    where = str(paths.runtime_dir().resolve())
    digest = hashlib.sha256(f"{getpass.getuser()}|{where}".encode()).hexdigest()[:12]
    return f"roundhouse-tray-{digest}"


class SingleInstance(QObject):
    activated = Signal()

    def __init__(
        self, lock_file: Path | None = None, name: str | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.lock_file = lock_file or paths.runtime_dir() / "tray.lock"
        self.name = name or instance_name()
        self._lock: QLockFile | None = None
        self._server: QLocalServer | None = None

    def acquire(self) -> bool:
        """True when this is the only instance; otherwise asks the first one to come forward."""
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        lock = QLockFile(str(self.lock_file))
        if not lock.tryLock(200):
            self._ask_first_to_show()
            return False
        self._lock = lock
        # A crashed first instance can leave its socket behind; the lock proves it is gone.
        QLocalServer.removeServer(self.name)
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        server.newConnection.connect(self._on_connection)
        server.listen(self.name)
        self._server = server
        return True

    def _ask_first_to_show(self) -> None:
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if socket.waitForConnected(2000):
            socket.write(SHOW)
            socket.flush()
            socket.waitForBytesWritten(2000)
            socket.disconnectFromServer()

    def _on_connection(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.readyRead.connect(bind(self._on_message, socket))
            socket.disconnected.connect(socket.deleteLater)

    def _on_message(self, socket: QLocalSocket) -> None:
        if SHOW.strip() in bytes(socket.readAll().data()):
            self.activated.emit()

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None
