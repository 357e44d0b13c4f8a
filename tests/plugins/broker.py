"""A throwaway mosquitto broker on a loopback port, started from Debian's binary."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from support import free_port

from o2g_flows.sim.tls import make_self_signed

__all__ = ["Mosquitto"]


class Mosquitto:
    """``mosquitto`` with a configuration of its own (loopback, no persistence; anonymous, or
    only ``users`` with their passwords; with ``tls`` a second listener on ``tls_port``
    whose certificate is ``ca``); ``restart()`` stops it and starts it again on the same
    port."""

    def __init__(
        self, port: int | None = None, users: dict[str, str] | None = None, tls: bool = False
    ) -> None:
        binary = shutil.which("mosquitto") or next(
            (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).is_file()), None
        )
        if binary is None:
            raise RuntimeError("mosquitto is not installed: apt-get install -y mosquitto")
        self.binary = binary
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="o2g-mqtt-"))
        self.config = self.folder / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false"]
        if users:
            passwords = self.folder / "passwords"
            passwords.touch()
            for name, password in users.items():
                command = [_passwd_binary(), "-b", str(passwords), name, password]
                subprocess.run(command, check=True, capture_output=True)
            # started as root, mosquitto reads it as its own user: throwaway test passwords
            self.folder.chmod(0o755)
            passwords.chmod(0o644)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        self.tls_port: int | None = None
        self.ca: Path | None = None
        if tls:  # a second listener, TLS with a self-signed certificate (its own CA)
            self.tls_port = free_port()
            self.ca, key = make_self_signed(self.folder)
            self.folder.chmod(0o755)
            key.chmod(0o644)  # read by mosquitto's own user when started as root
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"certfile {self.ca}",
                f"keyfile {key}",
            ]
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:PORT``."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        """Start the broker and wait until it accepts connections."""
        log = (self.folder / "mosquitto.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"mosquitto did not start: {(self.folder / 'mosquitto.log').read_text()}"
                    ) from None
                time.sleep(0.02)

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port (retained messages are lost)."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and remove the configuration folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _passwd_binary() -> str:
    found = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(found).is_file():
        raise RuntimeError("mosquitto_passwd is missing: apt-get install -y mosquitto")
    return found
