"""Checks of recorded files with Debian's ffmpeg/ffprobe, and reading a RECORD_DIR's sidecars."""

import glob
import json
import os
import shutil
import subprocess

import pytest


def need_ffmpeg() -> None:
    if not shutil.which("ffprobe") or not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg/ffprobe not installed (scripts/test.sh installs Debian's ffmpeg)")


def sidecars(record_dir: str) -> list[dict]:
    out = []
    for path in sorted(glob.glob(os.path.join(record_dir, "*.json"))):
        with open(path) as f:
            out.append(json.load(f))
    return out


def files_of_room(record_dir: str, room: str) -> list[dict]:
    return [f for s in sidecars(record_dir) if s["room"] == room for f in s["files"]]


def decode_errors(path: str) -> str:
    """ffmpeg's error output when decoding the whole file (empty when it decodes cleanly)."""
    fmt = ["-f", "h264"] if path.endswith(".h264") else []
    # Frames keep the file's own timestamps (1/90000 in IVF): by default ffmpeg re-times
    # them to a guessed frame rate, and two frames of a variable-rate stream (Chromium's AV1)
    # closer than 1/rate then collide in its null muxer, an error about ffmpeg's output, not
    # about decoding the file.
    timing = [] if path.endswith(".h264") else ["-enc_time_base", "-1", "-fps_mode", "passthrough"]
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", *fmt, "-i", path, *timing, "-f", "null", "-"],
                       capture_output=True, text=True, timeout=120)
    return (r.stderr.strip() + ("" if r.returncode == 0 else f"\nexit {r.returncode}")).strip()


def probe_frames(path: str) -> list[dict]:
    """Every decoded video frame's key_frame flag and timestamp."""
    fmt = ["-f", "h264"] if path.endswith(".h264") else []
    r = subprocess.run(["ffprobe", "-v", "error", *fmt, "-select_streams", "v:0", "-show_frames",
                        "-show_entries", "frame=key_frame,pts_time,pict_type", "-of", "json", path],
                       capture_output=True, text=True, timeout=120, check=True)
    return json.loads(r.stdout).get("frames", [])


def audio_duration(path: str) -> float:
    """Duration of an Ogg/Opus file, from its last granule position (ffprobe's format duration)."""
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", path],
                       capture_output=True, text=True, timeout=60, check=True)
    return float(json.loads(r.stdout)["format"]["duration"])


def check_video(path: str, sent_frames: int | None, tolerance: float = 0.05) -> int:
    """Decodes cleanly, starts with a keyframe, and (when known) holds the frames sent ± tolerance."""
    assert os.path.getsize(path) > 0, f"{path} is empty"
    errors = decode_errors(path)
    assert errors == "", f"{os.path.basename(path)} does not decode cleanly:\n{errors[:2000]}"
    frames = probe_frames(path)
    assert frames, f"{path}: no video frame"
    assert int(frames[0]["key_frame"]) == 1, f"{path}: the first frame is not a keyframe: {frames[0]}"
    if sent_frames:
        assert abs(len(frames) - sent_frames) <= tolerance * sent_frames, \
            f"{path}: {len(frames)} frames recorded, {sent_frames} sent"
    return len(frames)


def check_audio(path: str, expected_seconds: float | None, tolerance: float = 0.05) -> float:
    assert os.path.getsize(path) > 0, f"{path} is empty"
    errors = decode_errors(path)
    assert errors == "", f"{os.path.basename(path)} does not decode cleanly:\n{errors[:2000]}"
    seconds = audio_duration(path)
    if expected_seconds:
        assert abs(seconds - expected_seconds) <= tolerance * expected_seconds, \
            f"{path}: {seconds:.2f} s of audio, the publication lasted {expected_seconds:.2f} s"
    return seconds
