"""Speech synthesis (Piper's en_US-joe-medium on ONNX Runtime, espeak-ng phonemes): the
phonemes against piper-phonemize (the phonemizer the voice was trained with), the round trip
through our own transcription, and `/v1/tts` and OpenAI's `/v1/audio/speech` on a real
server, through the `openai` client too.
"""

import concurrent.futures
import csv
import io
import subprocess
import wave

import av
import openai
import piper_phonemize
import pytest
import requests

from stt_testing import auth, edit_distance, fixture_path, stt_binary, words

VOICE = "en_US-joe-medium"
RATE = 22_050

# Texts with none of what our normaliser rewrites, so that espeak reads the same text in both.
PHONEME_TEXTS = [
    "Hello, world! How are you today?",
    "It was a bright cold day in April, and the clocks were striking thirteen.",
    "She sells sea shells; the shells she sells are surely sea shells: really.",
    'He said "stop." Then he left (quietly) through the back door.',
    "Wait... what happened next? Nobody knows!",
    "A title without a stop\n\nThen a second paragraph follows here.",
    "In 1999 the price rose by 3.14 percent, to 250 units.",
    "Well — that was unexpected, wasn't it? Well – yes.",
    "The quick brown fox jumps over the lazy dog",
    "Tomorrow, and tomorrow, and tomorrow, creeps in this petty pace from day to day.",
    "Is it 10:30 already? We're late for the 2nd meeting!",
    "Je ne sais quoi, said the naive café owner.",
]

# The first three Harvard sentence lists (IEEE 1969), phonetically balanced.
HARVARD = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.",
    "Read verse out loud for pleasure.",
]


def wav_info(data):
    with wave.open(io.BytesIO(data)) as wav:
        frames = wav.readframes(wav.getnframes())
        return wav.getframerate(), wav.getnchannels(), len(frames) // wav.getsampwidth()


def decoded_seconds(data):
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.rate


@pytest.fixture(scope="module")
def server(start_server):
    return start_server("--audio-workers", "1", name="speech")


@pytest.fixture(scope="module")
def key(server):
    return server.create_key(plan="paid")["key"]


def our_phonemes(text):
    done = subprocess.run(
        [str(stt_binary()), "say", "--phonemes", text], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def manifest_texts():
    with open(fixture_path("MANIFEST.tsv"), encoding="utf-8") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    return sorted({r["reference_text"] for r in rows if r["language"] == "en" and r["reference_text"]})


def same_stress_of_one(phonemes):
    """The one difference known between Debian's espeak-ng 1.51 and piper-phonemize's fork of
    it: the number "one" takes primary stress in one, secondary in the other (`wˈʌn`, `wˌʌn`)."""
    return [p.replace("wˌʌn", "wˈʌn") for p in phonemes]


def test_phonemes_match_piper_phonemize():
    """Hand-made edge cases (clauses, quotes, brackets, ellipses, paragraphs, dashes) and every
    English reference transcript of the fixtures."""
    texts = PHONEME_TEXTS + manifest_texts()
    differences = []
    for text in texts:
        reference = ["".join(s) for s in piper_phonemize.phonemize_espeak(text, "en-us")]
        reference = same_stress_of_one([s for s in reference if s.strip()])
        ours = same_stress_of_one(our_phonemes(text))
        if ours != reference:
            differences.append((text, ours, reference))
    assert not differences, f"{len(differences)} of {len(texts)} differ:\n" + "\n".join(
        f"{t!r}:\n  ours {o}\n  piper {r}" for t, o, r in differences)


def test_normaliser_makes_text_speakable():
    ours = our_phonemes("Dr. Smith paid $12.99 on 2024-03-05.")
    # One sentence (the abbreviation is no sentence end), currency and the date read as words.
    assert len(ours) == 1, ours
    reference = "".join(piper_phonemize.phonemize_espeak(
        "Doctor Smith paid 12 dollars and 99 cents on March 5th, 2024.", "en-us")[0])
    assert ours[0] == reference


def test_round_trip_through_our_transcription(server, key):
    """30 sentences spoken by /v1/tts as one text, transcribed by /v1/transcribe (base): the
    word error rate of the round trip is at most 10 %."""
    text = " ".join(HARVARD)
    response = requests.post(
        server.url("/v1/tts"), headers=auth(key), files={"text": (None, text)}, timeout=300
    )
    assert response.status_code == 200, response.text
    spoken = float(response.headers["x-duration"])
    generation = float(response.headers["x-generation-time"])
    heard = requests.post(
        server.url("/v1/transcribe"),
        headers=auth(key),
        files={"file": ("speech.wav", response.content)},
        data={"model": "base", "language": "en", "store": "false"},
        timeout=300,
    )
    assert heard.status_code == 200, heard.text
    hypothesis = heard.json()["text"]
    rate = edit_distance(words(text), words(hypothesis)) / len(words(text))
    print(f"\nround trip: WER {rate:.1%} over {len(words(text))} words; {spoken:.1f} s of speech "
          f"made in {generation:.1f} s (real-time factor {generation / spoken:.3f})")
    assert rate <= 0.10, f"WER {rate:.1%}: {hypothesis}"


def test_tts_says_which_voice_spoke(server, key):
    reference = fixture_path("en_ljspeech_LJ001-0001.wav").read_bytes()
    response = requests.post(
        server.url("/v1/tts"),
        headers=auth(key),
        files={"text": (None, "One sentence. And another one!"),
               "reference": ("me.wav", reference)},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["x-voice"] == VOICE
    assert response.headers["x-voice-cloned"] == "false"
    rate, channels, samples = wav_info(response.content)
    assert (rate, channels) == (RATE, 1)
    assert abs(samples / rate - float(response.headers["x-duration"])) < 0.002
    assert 1.0 < samples / rate < 6.0
    assert float(response.headers["x-generation-time"]) > 0


def test_openai_client_speech(server, key):
    client = openai.OpenAI(api_key=key, base_url=server.url("/v1"))
    text = "Speech from the official client. It streams a sentence at a time."
    mp3 = client.audio.speech.create(model="tts-1", voice="alloy", input=text)
    assert mp3.response.headers["content-type"] == "audio/mpeg"
    seconds = decoded_seconds(mp3.content)
    assert 2.0 < seconds < 10.0, seconds
    wav = client.audio.speech.create(model="tts-1", voice="alloy", input=text,
                                     response_format="wav")
    rate, _, samples = wav_info(wav.content)
    assert rate == RATE and abs(samples / rate - seconds) < 0.5
    opus = client.audio.speech.create(model="tts-1", voice="alloy", input=text,
                                      response_format="opus")
    assert opus.content[:4] == b"OggS" and abs(decoded_seconds(opus.content) - samples / rate) < 0.5
    with client.audio.speech.with_streaming_response.create(
        model="tts-1-hd", voice=VOICE, input=text, response_format="pcm", speed=2.0
    ) as streamed:
        pcm = b"".join(streamed.iter_bytes())
    # OpenAI's pcm: 16-bit mono at 24 kHz; twice as fast is about half as long.
    fast = len(pcm) / 2 / 24_000
    assert len(pcm) % 2 == 0 and 0.3 * seconds < fast < 0.7 * seconds, (fast, seconds)


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"model": "tts-1", "input": "", "voice": "alloy"}, 400, "missing `input`"),
        ({"model": "tts-1", "input": "x" * 4097, "voice": "alloy"}, 400, "4097 characters"),
        ({"model": "tts-1", "input": "hi", "voice": "nobody"}, 400, "unsupported `voice`"),
        ({"model": "tts-9", "input": "hi", "voice": "alloy"}, 400, "unsupported `model`"),
        ({"model": "tts-1", "input": "hi", "voice": "alloy", "response_format": "aac"}, 400,
         "unsupported `response_format`"),
        ({"model": "tts-1", "input": "hi", "voice": "alloy", "speed": 10}, 400, "`speed`"),
        ({"model": "tts-1", "input": "hi", "voice": "alloy", "pitch": 2}, 400, "unknown field"),
        ({"model": "tts-1", "input": "... ( )", "voice": "alloy"}, 400, "nothing to say"),
    ],
)
def test_speech_refuses_bad_requests(server, key, body, status, message):
    response = requests.post(server.url("/v1/audio/speech"), headers=auth(key), json=body,
                             timeout=60)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_tts_refuses_bad_requests(server, key):
    def tts(files, headers=auth(key)):
        return requests.post(server.url("/v1/tts"), headers=headers, files=files, timeout=60)

    assert tts({"text": (None, "hi")}, headers={}).status_code == 401
    cases = [
        ({"text": (None, "  ")}, 400, "missing `text`"),
        ({"text": (None, "hi"), "language": (None, "fr")}, 400, "unsupported `language`"),
        ({"text": (None, "hi"), "reference": ("r.wav", b"not audio at all")}, 400, "reference"),
        ({"text": (None, "hi"), "speed": (None, "fast")}, 400, "invalid `speed`"),
    ]
    for files, status, message in cases:
        response = tts(files)
        assert response.status_code == status, (files, response.text)
        assert message in response.json()["error"], response.text
        assert "/tmp" not in response.text and "/data/" not in response.text
    # A reference larger or longer than a voice clip is refused, not stored or decoded whole.
    response = tts({"text": (None, "hi"), "reference": ("big.wav", b"\0" * (17 << 20))})
    assert response.status_code == 413 and "16 MB" in response.text, response.text
    # A reference longer than a voice clip is refused, not decoded to the end.
    long = fixture_path("en_librivox_sonnets_001_002_106s.mp3").read_bytes()
    response = tts({"text": (None, "hi"), "reference": ("long.mp3", long)})
    assert response.status_code == 413, response.text


def test_busy_audio_workers_answer_503(start_server):
    server = start_server("--audio-workers", "1", "--audio-queue", "1", name="speech-busy")
    key = server.create_key(plan="paid", concurrency=8)["key"]
    text = " ".join(HARVARD[:10])

    def speak(_):
        return requests.post(server.url("/v1/audio/speech"), headers=auth(key), timeout=120,
                             json={"model": "tts-1", "voice": "alloy", "input": text,
                                   "response_format": "wav"})

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(speak, range(4)))
    statuses = sorted(r.status_code for r in responses)
    assert 200 in statuses and 503 in statuses, statuses
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers.get("retry-after"), busy.headers
