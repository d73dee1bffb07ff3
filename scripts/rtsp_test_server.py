#!/usr/bin/python3
"""A real RTSP server for the ffmpeg source's RTSP test (GStreamer's gst-rtsp-server).

    /usr/bin/python3 scripts/rtsp_test_server.py [--width 160] [--height 120] [--fps 10]

Serves a live MJPEG test pattern (SMPTE bars scrolling sideways, so frames differ) at
rtsp://127.0.0.1:PORT/test, over interleaved TCP only, on a free port it prints as the
first line of stdout. It listens on 127.0.0.1 only, and exits on SIGTERM, SIGINT or when
its stdin closes (so it never outlives the test that started it).
Installed by `bash scripts/system_packages.sh gst-rtsp-server`; Debian's python3 (not a
pyenv or venv one) has the `gi` bindings.
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--fps", type=int, default=10)
    args = parser.parse_args()

    Gst.init(None)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( videotestsrc is-live=true pattern=smpte horizontal-speed=4"
        f" ! video/x-raw,format=I420,width={args.width},height={args.height},framerate={args.fps}/1"
        " ! jpegenc quality=90 ! rtpjpegpay name=pay0 pt=26 )"
    )
    factory.set_shared(True)
    # TCP only: a client that does not ask for interleaved TCP is refused.
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service("0")  # the kernel picks a free port
    server.get_mount_points().add_factory("/test", factory)
    if server.attach(None) == 0:
        sys.exit("rtsp_test_server: cannot listen on 127.0.0.1")

    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)

    def on_stdin(_fd: int, _condition: GLib.IOCondition) -> bool:
        if not sys.stdin.buffer.read1(4096):
            loop.quit()
            return False
        return True

    GLib.io_add_watch(
        sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP, on_stdin
    )
    print(server.get_bound_port(), flush=True)
    loop.run()


if __name__ == "__main__":
    main()
