"""Drives `bpc repl` through a pseudo-terminal for the pty tests: start(),
read_until(), type_keys() and finish(). Import it from a script in this
folder."""
import os
import pty
import select
import sys
import time


class Session:
    def __init__(self, bpc, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(bpc, [bpc, "repl"], env)
        self.shown = b""
        self.seen = 0  # how much of `shown` earlier waits consumed

    def read_some(self, timeout):
        """Appends what the terminal shows within `timeout` seconds to
        `shown`; False once bpc closed the terminal."""
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:
            return False
        self.shown += chunk
        return bool(chunk)

    def read_until(self, marker, timeout=20.0):
        """Reads terminal output until `marker` appears after what earlier
        waits consumed, and consumes up to its end."""
        deadline = time.time() + timeout
        while marker not in self.shown[self.seen:]:
            left = deadline - time.time()
            if left <= 0:
                sys.stdout.write(self.shown.decode(errors="replace"))
                sys.exit("timed out waiting for %r" % marker)
            if not self.read_some(left):
                break
        self.seen = self.shown.index(marker, self.seen) + len(marker)

    def type_keys(self, keys):
        # libedit prints the prompt before it puts the terminal in raw mode;
        # a key typed in between would meet the kernel's line discipline
        # (where Ctrl-D is an end-of-file marker), so give it a moment.
        time.sleep(0.2)
        for k in keys:
            os.write(self.fd, k.encode())
            time.sleep(0.01)

    def finish(self):
        """Ctrl-D, then everything until bpc closes the terminal; prints
        what the terminal showed and `exit N`."""
        self.type_keys("\x04")
        deadline = time.time() + 20
        while time.time() < deadline:
            if not self.read_some(0.5):
                break
        else:
            os.kill(self.pid, 9)
            print("bpc did not end after Ctrl-D")
        _, status = os.waitpid(self.pid, 0)
        sys.stdout.write(self.shown.decode(errors="replace").replace("\r", ""))
        print("\nexit", os.waitstatus_to_exitcode(status))
