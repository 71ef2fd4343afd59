"""`GET /v1/stream` (shared/spec/API.md section 2) driven by a real WebSocket client
(`websockets`) over loopback: the protocol, the transcript, and every way a client can get it
wrong or go away.
"""

import json
import subprocess
import time

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from stt_testing import edit_distance, fixture_path, words

JFK_WORDS = ("and so my fellow americans ask not what your country can do for you "
             "ask what you can do for your country").split()
TIMEOUT = 120  # seconds to wait for one message

# The connections are closed by the server (or by the test on purpose), not by a `with`.
pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used:DeprecationWarning")


@pytest.fixture(scope="module")
def server(start_server):
    return start_server("--max-streams", "2", name="stream")


@pytest.fixture(scope="module")
def key(server):
    return server.create_key(plan="paid", name="stream")["key"]


@pytest.fixture(scope="module")
def jfk_pcm():
    """jfk.flac as the endpoint takes it: s16le, 16 kHz, mono."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(fixture_path("jfk.flac")), "-f", "s16le", "-ac", "1",
         "-ar", "16000", "-"], capture_output=True, check=True).stdout


def ws_url(server, query=""):
    return server.base.replace("http://", "ws://") + "/v1/stream" + query


def open_stream(server, key, config=None, query=""):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    ws = connect(ws_url(server, query), additional_headers=headers, open_timeout=30)
    try:
        ws.send(json.dumps(config if config is not None else {"language": "en"}))
    except ConnectionClosed:
        pass  # refused at once: the reason is waiting to be read
    return ws


def messages(ws):
    """Every message until the server closes, decoded."""
    received = []
    try:
        while True:
            received.append(json.loads(ws.recv(timeout=TIMEOUT)))
    except ConnectionClosed:
        return received


def send_audio(ws, pcm, frame_bytes=3200):
    for start in range(0, len(pcm), frame_bytes):
        ws.send(pcm[start:start + frame_bytes])


def assert_admitted_again(server, key):
    """A stream refused only with "try again later" until admitted, within 30 s, which then
    ends cleanly."""
    deadline = time.time() + 30
    while True:
        ws = open_stream(server, key)
        reply = json.loads(ws.recv(timeout=TIMEOUT))
        if reply == {"status": "ready"}:
            break
        assert "try again later" in reply["error"] and time.time() < deadline, reply
        time.sleep(0.5)
    ws.send(json.dumps({"action": "stop"}))
    assert messages(ws)[-1] == {"is_final": True}


def finals(received):
    return [m for m in received if "text" in m]


def test_stream_transcribes_and_finishes_cleanly(server, key, jfk_pcm):
    ws = open_stream(server, key)
    assert json.loads(ws.recv(timeout=TIMEOUT)) == {"status": "ready"}
    send_audio(ws, jfk_pcm)
    ws.send(json.dumps({"action": "stop"}))
    received = messages(ws)
    assert ws.close_code == 1000, (ws.close_code, received)
    assert received[-1] == {"is_final": True}, received
    assert all(set(m) <= {"partial", "text", "start", "end", "words", "is_final"}
               for m in received), received
    segments = finals(received)
    text = " ".join(s["text"] for s in segments)
    assert edit_distance(JFK_WORDS, words(text)) <= 2, text
    # Final segments follow each other in time; each word lies inside its segment.
    previous_end = 0.0
    for segment in segments:
        assert segment["text"] == segment["text"].strip() and segment["text"]
        assert previous_end - 0.2 <= segment["start"] <= segment["end"] <= 11.5, segment
        assert segment["words"], segment
        for word in segment["words"]:
            assert segment["start"] <= word["start"] <= word["end"] <= segment["end"], segment
        previous_end = segment["end"]
    assert any("partial" in m for m in received), received


def test_odd_length_frames_lose_no_sample(server, key, jfk_pcm):
    """Frames of any size: a sample split between two frames is joined, not dropped (a
    dropped byte would shift every later sample into noise)."""
    ws = open_stream(server, key)
    assert json.loads(ws.recv(timeout=TIMEOUT)) == {"status": "ready"}
    send_audio(ws, jfk_pcm, frame_bytes=4001)
    ws.send(b"")
    ws.send(json.dumps({"action": "stop"}))
    received = messages(ws)
    assert received[-1] == {"is_final": True}, received
    text = " ".join(s["text"] for s in finals(received))
    assert edit_distance(JFK_WORDS, words(text)) <= 2, text


def test_text_frame_in_the_audio_phase_is_an_error_after_a_flush(server, key, jfk_pcm):
    ws = open_stream(server, key)
    assert json.loads(ws.recv(timeout=TIMEOUT)) == {"status": "ready"}
    send_audio(ws, jfk_pcm[:32000 * 4])  # "And so, my fellow Americans"
    ws.send("hello")
    received = messages(ws)
    errors = [m for m in received if "error" in m]
    assert len(errors) == 1 and received[-1] is errors[0], received
    assert "binary PCM" in errors[0]["error"] and "stop" in errors[0]["error"], errors
    assert ws.close_code == 1003, ws.close_code
    # What was accepted before the bad frame was still transcribed.
    text = " ".join(s["text"] for s in finals(received)).lower()
    assert "fellow" in text, received


@pytest.mark.parametrize("first, fragment, code", [
    (b"\x00\x01" * 100, "first message must be the JSON config", 1003),
    ("{not json", "must be a JSON object", 1007),
    ('["en"]', "must be a JSON object", 1007),
    ('{"language": "xx"}', "`language`", 1007),
    # A reason of 400 bytes: the close frame carries 123 of them, cut between characters.
    ('{"language": "' + "é" * 200 + '"}', "`language`", 1007),
    ('{"beam_size": "wide"}', "`beam_size`", 1007),
    ('{"model": "whisper-large", "temperature": 3}', "temperature", 1007),
])
def test_malformed_config_gets_an_error_and_a_clean_close(server, key, first, fragment, code):
    ws = connect(ws_url(server), additional_headers={"Authorization": f"Bearer {key}"})
    ws.send(first)
    received = messages(ws)
    assert len(received) == 1 and fragment in received[0].get("error", ""), received
    assert ws.close_code == code, ws.close_code


def test_an_error_reaches_a_client_that_streams_right_after_its_config(server, key):
    """The server reads on to the client's close frame, so the refusal is not lost in a reset
    under the audio the client sent before it arrived."""
    for _ in range(5):
        ws = connect(ws_url(server), additional_headers={"Authorization": f"Bearer {key}"})
        ws.send('{"language": "xx"}')
        try:
            for _ in range(10):
                ws.send(b"\x00\x01" * 16000)
        except ConnectionClosed:
            pass  # closed by the server (cleanly) before all of it went out
        received = messages(ws)
        assert any("`language`" in m.get("error", "") for m in received), received
        assert ws.close_code == 1007, ws.close_code


def test_a_message_over_4_mb_is_refused_with_1009_after_a_flush(server, key, jfk_pcm):
    ws = open_stream(server, key)
    assert json.loads(ws.recv(timeout=TIMEOUT)) == {"status": "ready"}
    send_audio(ws, jfk_pcm[:32000 * 4])  # "And so, my fellow Americans"
    try:
        ws.send(b"\x00\x01" * (5 << 19))  # 5 MB
    except ConnectionClosed:
        pass
    received = messages(ws)
    errors = [m for m in received if "error" in m]
    assert len(errors) == 1 and "larger than 4 MB" in errors[0]["error"], received
    assert ws.close_code == 1009, ws.close_code
    text = " ".join(s["text"] for s in finals(received)).lower()
    assert "fellow" in text, received


def test_a_stream_holds_the_minutes_it_uses_and_stops_at_the_quota(server):
    """A 1-minute key: 70 s of audio are refused at the minute, and a request made while the
    stream holds that minute is 402 (the stream and the request cannot both spend it)."""
    limited = server.create_key(plan="free", minutes=1, concurrency=2)["key"]
    ws = open_stream(server, limited)
    assert json.loads(ws.recv(timeout=TIMEOUT)) == {"status": "ready"}
    send_audio(ws, b"\x00\x00" * 16000 * 10)
    held = requests.post(server.url("/v1/transcribe"), headers={"Authorization": f"Bearer {limited}"},
                         files={"file": ("a.flac", fixture_path("jfk.flac").read_bytes())},
                         timeout=TIMEOUT)
    assert held.status_code == 402, held.text
    try:
        send_audio(ws, b"\x00\x00" * 16000 * 60)
    except ConnectionClosed:
        pass
    received = messages(ws)
    errors = [m for m in received if "error" in m]
    assert errors and "no credits left" in errors[0]["error"], received
    assert ws.close_code == 1008, ws.close_code


def test_unknown_action_and_non_json_text(server, key):
    for text, fragment in [('{"action": "pause"}', 'unknown action "pause"'),
                           ('{"language": "fr"}', "without an action")]:
        ws = open_stream(server, key)
        assert json.loads(ws.recv(timeout=TIMEOUT)) == {"status": "ready"}
        ws.send(text)
        received = messages(ws)
        assert fragment in received[-1].get("error", ""), received


def test_key_is_required_and_may_come_as_a_query_parameter(server, key):
    ws = open_stream(server, None)
    received = messages(ws)
    assert "missing API key" in received[0]["error"], received
    assert ws.close_code == 1008
    ws = open_stream(server, None, query="?token=wrong")
    assert "invalid API key" in messages(ws)[0]["error"]
    ws = open_stream(server, None, query=f"?token={key}")
    assert json.loads(ws.recv(timeout=TIMEOUT)) == {"status": "ready"}
    ws.send(json.dumps({"action": "stop"}))
    assert messages(ws) == [{"is_final": True}]


def test_plain_http_gets_a_json_error(server):
    response = requests.get(server.url("/v1/stream"), timeout=10)
    assert response.status_code == 400
    assert "WebSocket" in response.json()["error"]


def test_stream_limit_refuses_one_more_and_a_disconnect_frees_its_slot(server, key, jfk_pcm):
    """Two streams at once on this server: a third is refused with a message saying so, and a
    client that drops its connection mid-stream (no stop) gives its slot back."""
    first, second = open_stream(server, key), open_stream(server, key)
    for ws in (first, second):
        assert json.loads(ws.recv(timeout=TIMEOUT)) == {"status": "ready"}
        send_audio(ws, jfk_pcm[:32000 * 3])
    third = open_stream(server, key)
    refused = messages(third)
    # At the limit of 2, or refused earlier by the measured load of the two.
    error = refused[0]["error"]
    assert "live streams" in error and "try again later" in error, refused
    assert third.close_code == 1013
    # Dropped without a close frame, while audio is being decoded.
    first.socket.close()
    assert_admitted_again(server, key)
    second.send(json.dumps({"action": "stop"}))
    assert messages(second)[-1] == {"is_final": True}
    assert server.alive()


def test_streams_are_admitted_by_measured_capacity(start_server, jfk_pcm):
    """Well below `--max-streams`, a stream is refused when the steps of those running would
    no longer all fit in one round: here a round of 0.05 s, shorter than any step of base."""
    busy = start_server("--max-streams", "8", "--stream-round-seconds", "0.05",
                        name="stream-capacity")
    key = busy.create_key(plan="paid", name="capacity")["key"]
    first = open_stream(busy, key)
    assert json.loads(first.recv(timeout=TIMEOUT)) == {"status": "ready"}
    # Real time: 0.1 s of audio every 0.1 s, the paced steps that are measured.
    for start in range(0, 32000 * 3, 3200):
        first.send(jfk_pcm[start:start + 3200])
        time.sleep(0.1)
    second = open_stream(busy, key)
    refused = messages(second)
    assert "measured capacity: 1 live streams" in refused[0].get("error", ""), refused
    assert second.close_code == 1013
    first.send(json.dumps({"action": "stop"}))
    assert messages(first)[-1] == {"is_final": True}
    # With none running the next is admitted, whatever a step costs.
    assert_admitted_again(busy, key)
    busy.stop()
